// One validation pass over a batch document: the daemon's rules line by line, plus a warning for
// each request that will not fit its context. Big documents are done in slices so that the
// connection keeps answering, and a pass gives up as soon as a newer version makes it stale.
import {
  DiagnosticSeverity,
  type Diagnostic,
  type DiagnosticRelatedInformation,
  type Range,
} from 'vscode-languageserver';
import { ValidationState, validateLine } from '../batches/validate.js';
import { withoutBom } from '../jsonl/lines.js';
import { DIAGNOSTIC_SOURCE } from '../protocol/jobs.js';
import type { BatchError, ChatCompletionBody } from '../protocol/openai.js';
import type { Measurement, RequestBudget } from './request-budget.js';
import { valueSpan } from './value-span.js';

/** Validation time between two turns of the event loop, so other messages wait no longer. */
const SLICE_MS = 10;
/** How often (in lines) the clock is read. */
const CLOCK_EVERY_LINES = 100;
/** More diagnostics than this are counted, not listed. */
const MAX_DIAGNOSTICS = 1_000;

export function overflowMessage(measurement: Measurement): string {
  return `about ${measurement.promptTokens} prompt tokens + ${measurement.outputTokens} for the answer; num_ctx is ${measurement.numCtx}`;
}

function rangeOf(line: number, text: string, param: string | null): Range {
  // The span is found in the line as validated, after a BOM the reader drops.
  const json = withoutBom(text);
  const span = param === null ? null : valueSpan(json, param);
  const offset = text.length - json.length;
  if (!span) return { start: { line, character: 0 }, end: { line, character: text.length } };
  return { start: { line, character: offset + span.start }, end: { line, character: offset + span.end } };
}

/** The lines of one document, as the pass reads them and as a diagnostic points back into them. */
export interface DocumentLines {
  readonly uri: string;
  lines(): Iterable<string>;
  /** Line `index` (from 0). */
  line(index: number): string;
}

function errorDiagnostic(
  state: ValidationState,
  document: DocumentLines,
  line: number,
  text: string,
  problem: BatchError,
): Diagnostic {
  // The validator's messages name the file and line for logs; the editor shows both already.
  const prefix = `${state.fileName} line ${problem.line}: `;
  const message = problem.message.startsWith(prefix) ? problem.message.slice(prefix.length) : problem.message;
  const related = problem.code === 'duplicate_custom_id' ? firstUse(state, document, text) : null;
  return {
    range: rangeOf(line, text, problem.param),
    severity: DiagnosticSeverity.Error,
    source: DIAGNOSTIC_SOURCE,
    code: problem.code,
    message,
    ...(related && { relatedInformation: [related] }),
  };
}

/** Where a duplicate custom_id was first used: the validator remembers the line of each id. */
function firstUse(state: ValidationState, document: DocumentLines, text: string): DiagnosticRelatedInformation | null {
  const id = (JSON.parse(withoutBom(text)) as { custom_id: string }).custom_id;
  const firstLine = state.seenIds.get(id);
  if (firstLine === undefined) return null;
  const index = firstLine - 1;
  return {
    location: { uri: document.uri, range: rangeOf(index, document.line(index), 'custom_id') },
    message: `first use of custom_id "${id}"`,
  };
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The document's diagnostics, or null when the pass went stale before it finished. */
export async function validateDocument(
  document: DocumentLines,
  fileName: string,
  budget: RequestBudget,
  isStale: () => boolean,
): Promise<Diagnostic[] | null> {
  const diagnostics: Diagnostic[] = [];
  let unlisted = 0;
  const add = (diagnostic: Diagnostic): void => {
    if (diagnostics.length < MAX_DIAGNOSTICS) diagnostics.push(diagnostic);
    else unlisted++;
  };
  let line = 0;
  let lineText = '';
  const onRequest = (body: ChatCompletionBody): void => {
    const overflow = budget.overflow(body);
    if (!overflow) return;
    add({
      range: rangeOf(line, lineText, 'body.messages'),
      severity: DiagnosticSeverity.Warning,
      source: DIAGNOSTIC_SOURCE,
      code: 'context_length_exceeded',
      message: `This request may not fit the context: ${overflowMessage(overflow)}.`,
    });
  };
  const state = new ValidationState(fileName, undefined, onRequest);
  let sliceStarted = performance.now();
  for (const current of document.lines()) {
    lineText = current;
    const problem = validateLine(state, line + 1, withoutBom(current));
    if (problem) add(errorDiagnostic(state, document, line, current, problem));
    if (++line % CLOCK_EVERY_LINES === 0 && performance.now() - sliceStarted > SLICE_MS) {
      await yieldToEventLoop();
      if (isStale()) return null;
      sliceStarted = performance.now();
    }
  }
  if (unlisted > 0) {
    diagnostics.push({
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
      severity: DiagnosticSeverity.Information,
      source: DIAGNOSTIC_SOURCE,
      code: 'too_many_errors',
      message: `${unlisted} more problems are not listed (the first ${MAX_DIAGNOSTICS} are).`,
    });
  }
  return diagnostics;
}

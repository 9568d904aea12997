// The editor side of the daemon: diagnostics, hover and code lens for batch input files (JSON
// Lines of requests) open in a VS Code window. Clients that never send `initialize` (the CLI)
// never open documents, so none of this runs for them.
import { basename } from 'node:path';
import {
  CodeActionKind,
  DidChangeConfigurationNotification,
  MarkupKind,
  TextDocumentSyncKind,
  TextDocuments,
  type CodeAction,
  type CodeLens,
  type Connection,
  type Disposable,
  type Hover,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver';
import { ValidationState, validateLine } from '../batches/validate.js';
import { withoutBom } from '../jsonl/lines.js';
import type { ChatCompletionBody } from '../protocol/openai.js';
import type { ModelStats } from '../store/store.js';
import { BATCH_DOCUMENTS, isBatchDocument, isJsonlDocument, type BatchDocument } from './batch-document.js';
import { DIAGNOSTIC_SOURCE } from '../protocol/jobs.js';
import { overflowMessage, validateDocument } from './document-validation.js';
import { quickFixes } from './quick-fixes.js';
import { RequestBudget, type Measurement } from './request-budget.js';
import { SETTINGS_SECTION, SettingsCache } from './settings.js';

/** Commands the client registers; code lenses carry the document's uri (a string) as argument. */
const RUN_BATCH_COMMAND = 'ollamaBatch.runBatch';
const VALIDATE_BATCH_COMMAND = 'ollamaBatch.validateBatchFile';
/** Quiet time after an edit before the document is validated again. */
const CHANGE_DEBOUNCE_MS = 200;

export interface LanguageFeatureOptions {
  /** What the daemon learned about a model (calibration, limits). */
  modelStats(model: string): ModelStats;
}

export interface LanguageFeatures extends Disposable {
  /** The answer to the client's `initialize`. */
  initialize(params: InitializeParams): InitializeResult;
}

interface Schedule {
  /** Bumped by every change: a pass started under another generation is stale. */
  generation: number;
  timer?: NodeJS.Timeout;
}

/** The answer budget's line: a request without max_tokens is not unbounded, it is given room. */
function answerBudgetText(measurement: Measurement): string {
  if (measurement.outputSource === 'default')
    return `- Answer: no max_tokens set, so ${measurement.outputTokens} tokens are kept free for it`;
  return `- Answer: up to ${measurement.outputTokens} tokens (${measurement.outputSource})`;
}

export function hoverText(id: string, measurement: Measurement): string {
  const { model, promptTokens, outputTokens, numCtx, calibration } = measurement;
  const estimate = calibration.calibrated
    ? `calibrated for \`${model}\` (×${calibration.factor.toFixed(2)})`
    : `with a ${Math.round((calibration.factor - 1) * 100)}% safety margin: \`${model}\` is not calibrated yet`;
  const verdict = measurement.fits
    ? `Fits: ${promptTokens + outputTokens} of ${numCtx} tokens`
    : `**Does not fit**: ${overflowMessage(measurement)}`;
  return [
    `**Request** \`${id}\``,
    '',
    `- Prompt: about ${promptTokens} tokens, ${estimate}`,
    answerBudgetText(measurement),
    `- num_ctx ${numCtx} (${measurement.numCtxSource}): ${verdict}`,
  ].join('\n');
}

export function registerLanguageFeatures(connection: Connection, options: LanguageFeatureOptions): LanguageFeatures {
  const documents = new TextDocuments(BATCH_DOCUMENTS);
  const settings = new SettingsCache(connection);
  const schedules = new Map<string, Schedule>();
  let registerForChanges = false;

  const budgetFor = async (uri: string): Promise<RequestBudget> =>
    new RequestBudget((model) => options.modelStats(model), (await settings.for(uri)).numCtx);

  async function validate(document: BatchDocument, schedule: Schedule, generation: number): Promise<void> {
    const isStale = (): boolean => schedule.generation !== generation;
    const { uri, version } = document;
    if (!isBatchDocument(document)) {
      void connection.sendDiagnostics({ uri, version, diagnostics: [] });
      return;
    }
    const budget = await budgetFor(uri);
    if (isStale()) return;
    const diagnostics = await validateDocument(document, basename(uri), budget, isStale);
    if (diagnostics) void connection.sendDiagnostics({ uri, version, diagnostics });
  }

  function schedule(document: BatchDocument, delayMs: number): void {
    if (!isJsonlDocument(document)) return;
    let entry = schedules.get(document.uri);
    if (!entry) schedules.set(document.uri, (entry = { generation: 0 }));
    const generation = ++entry.generation;
    clearTimeout(entry.timer);
    const scheduled = entry;
    entry.timer = setTimeout(() => {
      validate(document, scheduled, generation).catch((error: unknown) =>
        connection.console.error(`validating ${document.uri}: ${(error as Error).message}`),
      );
    }, delayMs);
  }

  function unschedule(uri: string): void {
    const entry = schedules.get(uri);
    if (!entry) return;
    entry.generation++;
    clearTimeout(entry.timer);
    schedules.delete(uri);
  }

  async function hover(uri: string, line: number): Promise<Hover | null> {
    const document = documents.get(uri);
    if (!document || !isBatchDocument(document)) return null;
    const request: { body?: ChatCompletionBody } = {};
    const state = new ValidationState(basename(uri), undefined, (body) => (request.body = body));
    if (validateLine(state, line + 1, withoutBom(document.line(line))) || !request.body) return null;
    // A fresh state has seen exactly this line's custom_id.
    const id = state.seenIds.keys().next().value!;
    const measurement = (await budgetFor(uri)).measure(request.body);
    return { contents: { kind: MarkupKind.Markdown, value: hoverText(id, measurement) } };
  }

  const disposables: Disposable[] = [
    // Fired for the opening too: a document seen for the first time is validated at once.
    documents.onDidChangeContent(({ document }) =>
      schedule(document, schedules.has(document.uri) ? CHANGE_DEBOUNCE_MS : 0),
    ),
    documents.onDidClose(({ document }) => {
      unschedule(document.uri);
      settings.forget(document.uri);
      if (isJsonlDocument(document)) void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] });
    }),
    connection.onInitialized(() => {
      if (registerForChanges)
        void connection.client
          .register(DidChangeConfigurationNotification.type, { section: SETTINGS_SECTION })
          .catch(() => undefined);
    }),
    connection.onDidChangeConfiguration(() => {
      settings.clear();
      for (const document of documents.all()) schedule(document, 0);
    }),
    connection.onHover(({ textDocument, position }) => hover(textDocument.uri, position.line)),
    connection.onCodeAction(({ textDocument, context }): CodeAction[] => {
      const document = documents.get(textDocument.uri);
      if (!document || !isBatchDocument(document)) return [];
      return context.diagnostics
        .filter((diagnostic) => diagnostic.source === DIAGNOSTIC_SOURCE)
        .flatMap((diagnostic) => quickFixes(document, diagnostic, document.line(diagnostic.range.start.line)));
    }),
    connection.onCodeLens(({ textDocument }): CodeLens[] => {
      const document = documents.get(textDocument.uri);
      if (!document || !isBatchDocument(document)) return [];
      const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
      return [
        { range, command: { title: '▶ Run batch', command: RUN_BATCH_COMMAND, arguments: [document.uri] } },
        { range, command: { title: 'Validate', command: VALIDATE_BATCH_COMMAND, arguments: [document.uri] } },
      ];
    }),
    documents.listen(connection),
  ];

  return {
    initialize({ capabilities }) {
      settings.supported = capabilities.workspace?.configuration === true;
      registerForChanges = capabilities.workspace?.didChangeConfiguration?.dynamicRegistration === true;
      return {
        capabilities: {
          textDocumentSync: TextDocumentSyncKind.Incremental,
          hoverProvider: true,
          codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
          codeLensProvider: { resolveProvider: false },
        },
      };
    },
    dispose() {
      for (const uri of [...schedules.keys()]) unschedule(uri);
      for (const disposable of disposables) disposable.dispose();
    },
  };
}

// Quick fixes for the validator's problems where the fix is obvious and safe: a stray byte order
// mark that breaks a line's JSON, a custom_id used twice (the later one renamed), a missing or
// wrong `method` (a batch line's method is always POST). Each is checked before it is offered:
// the edited line must parse.
import { CodeActionKind, type CodeAction, type Diagnostic, type TextEdit } from 'vscode-languageserver';
import { withoutBom } from '../jsonl/lines.js';
import { valueSpan } from './value-span.js';

const LEADING_BOMS = /^\uFEFF+/;

/** What a quick fix needs of the document: its uri, and its lines to find an unused id. */
export interface FixDocument {
  readonly uri: string;
  lines(): Iterable<string>;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function fix(document: FixDocument, diagnostic: Diagnostic, title: string, edit: TextEdit): CodeAction {
  return {
    title,
    kind: CodeActionKind.QuickFix,
    diagnostics: [diagnostic],
    isPreferred: true,
    edit: { changes: { [document.uri]: [edit] } },
  };
}

/** The byte order marks that start a line that does not parse only because of them (`cat` of BOM files). */
function removeBoms(document: FixDocument, diagnostic: Diagnostic, line: number, text: string): CodeAction | null {
  const marks = LEADING_BOMS.exec(text)?.[0].length ?? 0;
  if (marks === 0 || !parses(text.slice(marks))) return null;
  const range = { start: { line, character: 0 }, end: { line, character: marks } };
  return fix(document, diagnostic, 'Remove the byte order mark', { range, newText: '' });
}

/** The first of id-2, id-3, … that no line of the document mentions (as a JSON string). */
export function unusedId(id: string, lines: Iterable<string>): string {
  const texts = [...lines];
  for (let suffix = 2; ; suffix++) {
    const candidate = `${id}-${suffix}`;
    const quoted = JSON.stringify(candidate);
    if (!texts.some((text) => text.includes(quoted))) return candidate;
  }
}

function renameDuplicate(document: FixDocument, diagnostic: Diagnostic, line: number, text: string): CodeAction | null {
  const clean = withoutBom(text);
  const offset = text.length - clean.length;
  const span = valueSpan(clean, 'custom_id');
  if (!span) return null;
  const id = (JSON.parse(clean) as { custom_id: string }).custom_id;
  const renamed = unusedId(id, document.lines());
  const range = { start: { line, character: offset + span.start }, end: { line, character: offset + span.end } };
  return fix(document, diagnostic, `Rename this custom_id to "${renamed}"`, {
    range,
    newText: JSON.stringify(renamed),
  });
}

/** "method": "POST" after the custom_id (the field order of OpenAI's examples), or in place of a wrong one. */
function setMethod(document: FixDocument, diagnostic: Diagnostic, line: number, text: string): CodeAction | null {
  const clean = withoutBom(text);
  const offset = text.length - clean.length;
  const at = (character: number) => ({ line, character: offset + character });
  const method = valueSpan(clean, 'method');
  if (method) {
    return fix(document, diagnostic, 'Set method to "POST"', {
      range: { start: at(method.start), end: at(method.end) },
      newText: '"POST"',
    });
  }
  const id = valueSpan(clean, 'custom_id');
  const spaced = /":\s/.test(clean);
  const member = spaced ? '"method": "POST"' : '"method":"POST"';
  const edit: TextEdit = id
    ? { range: { start: at(id.end), end: at(id.end) }, newText: spaced ? `, ${member}` : `,${member}` }
    : { range: { start: at(clean.indexOf('{') + 1), end: at(clean.indexOf('{') + 1) }, newText: `${member},` };
  return fix(document, diagnostic, 'Add "method": "POST"', edit);
}

/** The quick fixes for one of our diagnostics on `text` (line `diagnostic.range.start.line`). */
export function quickFixes(document: FixDocument, diagnostic: Diagnostic, text: string): CodeAction[] {
  const line = diagnostic.range.start.line;
  let action: CodeAction | null = null;
  if (diagnostic.code === 'invalid_json_line') action = removeBoms(document, diagnostic, line, text);
  else if (diagnostic.code === 'duplicate_custom_id') action = renameDuplicate(document, diagnostic, line, text);
  else if (
    diagnostic.code === 'invalid_request' &&
    typeof diagnostic.message === 'string' &&
    diagnostic.message.startsWith('method ')
  )
    action = setMethod(document, diagnostic, line, text);
  return action ? [action] : [];
}

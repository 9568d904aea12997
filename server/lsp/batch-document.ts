// Which editor documents are batch input files, and their lines.
import type { TextDocument } from 'vscode-languageserver-textdocument';

const JSONL_LANGUAGES = new Set(['jsonl', 'json-lines', 'jsonlines']);
/** How many non-blank lines are looked at for a custom_id. */
const SNIFF_LINES = 5;

/** A JSON Lines document, by language (VS Code may call a .jsonl file `json`) or by name. */
export function isJsonlDocument(document: TextDocument): boolean {
  return JSONL_LANGUAGES.has(document.languageId) || /\.jsonl$/i.test(document.uri.split(/[?#]/)[0]!);
}

/** The lines of a text without their line ends, from line 0. */
export function* textLines(text: string): Generator<string> {
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    yield end > start && text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
  }
}

/** Batch requests, not some other JSON Lines: one of the first non-blank lines has a custom_id. */
function looksLikeBatch(text: string): boolean {
  let seen = 0;
  for (const line of textLines(text)) {
    if (line.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === 'object' && value !== null && 'custom_id' in value) return true;
    } catch {
      // a line being typed: look at the next one
    }
    if (++seen === SNIFF_LINES) return false;
  }
  return false;
}

export function isBatchDocument(document: TextDocument): boolean {
  return isJsonlDocument(document) && looksLikeBatch(document.getText());
}

/** One line's text, without its line end. */
export function lineText(document: TextDocument, line: number): string {
  return document.getText({ start: { line, character: 0 }, end: { line: line + 1, character: 0 } }).replace(/\r?\n$/, '');
}

// Which editor documents are batch input files, and the documents themselves, kept as lines.
//
// vscode-languageserver-textdocument keeps one string and rebuilds it on every edit; V8 then
// flattens it on the next read, a copy that took about 50 ms per keystroke at 15 MB (and grows
// with the file). A batch file is read line by line anyway, so an edit here replaces only the
// lines it touches and the pass reads the lines as they are.
import type { TextDocumentContentChangeEvent, TextDocumentsConfiguration } from 'vscode-languageserver';
import { withoutBom } from '../jsonl/lines.js';

const JSONL_LANGUAGES = new Set(['jsonl', 'json-lines', 'jsonlines']);
/** How many non-blank lines are looked at for a custom_id. */
const SNIFF_LINES = 5;

export class BatchDocument {
  private constructor(
    readonly uri: string,
    readonly languageId: string,
    readonly version: number,
    /** Split at `\n` only: a CRLF line keeps its `\r` here, and line() drops it. */
    private readonly rawLines: readonly string[],
  ) {}

  static create(uri: string, languageId: string, version: number, content: string): BatchDocument {
    return new BatchDocument(uri, languageId, version, content.split('\n'));
  }

  /** A new document with `changes` applied in order (the old one stays as it was). */
  static update(document: BatchDocument, changes: TextDocumentContentChangeEvent[], version: number): BatchDocument {
    let lines = document.rawLines;
    for (const change of changes) {
      if (!('range' in change)) {
        lines = change.text.split('\n');
        continue;
      }
      const [start, end] = ordered(clamp(lines, change.range.start), clamp(lines, change.range.end));
      const joined = lines[start.line]!.slice(0, start.character) + change.text + lines[end.line]!.slice(end.character);
      // A new array of the same strings (pointers): the old document stays as it was.
      lines = lines.slice(0, start.line).concat(joined.split('\n'), lines.slice(end.line + 1));
    }
    return new BatchDocument(document.uri, document.languageId, version, lines);
  }

  get lineCount(): number {
    return this.rawLines.length;
  }

  /** Line `index` (from 0) without its line end. */
  line(index: number): string {
    const text = this.rawLines[index] ?? '';
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }

  *lines(): Generator<string> {
    for (let index = 0; index < this.rawLines.length; index++) yield this.line(index);
  }
}

/** TextDocuments' way of making and updating documents, for BatchDocument. */
export const BATCH_DOCUMENTS: TextDocumentsConfiguration<BatchDocument> = {
  create: (...args) => BatchDocument.create(...args),
  update: (...args) => BatchDocument.update(...args),
};

interface Position {
  line: number;
  character: number;
}

/** A position inside the document: past the last line means the end of the text. */
function clamp(lines: readonly string[], position: Position): Position {
  if (position.line < 0) return { line: 0, character: 0 };
  if (position.line >= lines.length) return { line: lines.length - 1, character: lines.at(-1)!.length };
  return { line: position.line, character: Math.max(0, position.character) };
}

function ordered(a: Position, b: Position): [Position, Position] {
  return a.line < b.line || (a.line === b.line && a.character <= b.character) ? [a, b] : [b, a];
}

/** A JSON Lines document, by language (VS Code may call a .jsonl file `json`) or by name. */
export function isJsonlDocument(document: BatchDocument): boolean {
  return JSONL_LANGUAGES.has(document.languageId) || /\.jsonl$/i.test(document.uri.split(/[?#]/)[0]!);
}

/** Batch requests, not some other JSON Lines: one of the first non-blank lines has a custom_id. */
function looksLikeBatch(document: BatchDocument): boolean {
  let seen = 0;
  for (const line of document.lines()) {
    if (line.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(withoutBom(line));
      if (typeof value === 'object' && value !== null && 'custom_id' in value) return true;
    } catch {
      // a line being typed: look at the next one
    }
    if (++seen === SNIFF_LINES) return false;
  }
  return false;
}

export function isBatchDocument(document: BatchDocument): boolean {
  return isJsonlDocument(document) && looksLikeBatch(document);
}

// BatchDocument, the language server's line-based document, against VS Code's own text document
// (vscode-languageserver-textdocument) as the oracle: any sequence of edits leaves the same lines.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { TextDocumentContentChangeEvent } from 'vscode-languageserver';
import { BatchDocument } from '../../server/lsp/batch-document.js';

const text = fc
  .array(fc.constantFrom('a', 'bc', '{"x":1}', '\n', '\r\n', 'é', '😀', ''), { maxLength: 30 })
  .map((parts) => parts.join(''));
/** A point as fractions of the document: mapped onto its lines when the edit is applied. */
const point = fc.tuple(fc.double({ min: 0, max: 1.2, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }));
const edit = fc.oneof(
  { weight: 9, arbitrary: fc.record({ start: point, end: point, text }) },
  { weight: 1, arbitrary: fc.record({ text }) },
);

const linesOf = (content: string): string[] => content.split('\n').map((line) => line.replace(/\r$/, ''));

/** A position on the oracle's current text, its character within the line's content (never inside a CRLF). */
function position(
  oracle: TextDocument,
  [lineShare, characterShare]: [number, number],
): { line: number; character: number } {
  const lines = linesOf(oracle.getText());
  // A share above 1 points past the last line, which both documents take as the end of the text.
  const line = Math.floor(lineShare * lines.length);
  return { line, character: Math.round(characterShare * (lines[line]?.length ?? 0)) };
}

describe('BatchDocument', () => {
  it('holds the same lines as VS Code’s text document after any edits', () => {
    fc.assert(
      fc.property(text, fc.array(edit, { maxLength: 12 }), (initial, edits) => {
        let oracle = TextDocument.create('file:///a.jsonl', 'jsonl', 1, initial);
        let document = BatchDocument.create('file:///a.jsonl', 'jsonl', 1, initial);
        edits.forEach((change, index) => {
          const event: TextDocumentContentChangeEvent =
            'start' in change
              ? {
                  range: { start: position(oracle, change.start), end: position(oracle, change.end) },
                  text: change.text,
                }
              : { text: change.text };
          oracle = TextDocument.update(oracle, [event], index + 2);
          document = BatchDocument.update(document, [event], index + 2);
          assert.deepEqual([...document.lines()], linesOf(oracle.getText()));
          assert.equal(document.lineCount, oracle.lineCount);
          assert.equal(document.version, oracle.version);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('edits a 50,000-line document without touching the other lines', () => {
    const lines = Array.from({ length: 50_000 }, (_, index) => `{"custom_id":"req-${index}"}`);
    const before = BatchDocument.create('file:///big.jsonl', 'jsonl', 1, lines.join('\r\n'));
    const after = BatchDocument.update(
      before,
      [{ range: { start: { line: 10, character: 2 }, end: { line: 12, character: 0 } }, text: 'X\r\n' }],
      2,
    );
    assert.equal(after.lineCount, 49_999);
    assert.equal(after.line(10), '{"X');
    assert.equal(after.line(11), lines[12]);
    assert.equal(after.line(49_998), lines[49_999]);
    // The old version is unchanged: a validation pass still reading it sees one document.
    assert.equal(before.line(10), lines[10]);
    assert.equal(before.lineCount, 50_000);
  });
});

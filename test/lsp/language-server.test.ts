// The daemon's editor features, in process: a language server connection over two streams, and a
// bare JSON-RPC client playing VS Code (test/support/lsp-editor.ts).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DiagnosticSeverity,
  type Diagnostic,
  type InitializeResult,
  type MarkupContent,
} from 'vscode-languageserver/node';
import { PromptCounter } from '../../server/context/budget.js';
import { batchLines, requestLine, tempDir } from '../support/batch-files.js';
import { Editor } from '../support/lsp-editor.js';

const MODEL = 'tiny';
const CALIBRATED = 'calibrated';
const FACTOR = 1.2;

type Request = Record<string, any>;
const request = (index: number, change: (request: Request) => void = () => undefined, model = MODEL): Request => {
  const line = requestLine(index, { model }) as Request;
  change(line);
  return line;
};
const jsonl = (...lines: (Request | string)[]): string =>
  lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n');

/** A diagnostic's message: this server sends plain text. */
const messageOf = (diagnostic: Diagnostic): string =>
  typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
const summary = (diagnostic: Diagnostic) => [
  diagnostic.range.start.line,
  diagnostic.code,
  diagnostic.range.start.character,
  diagnostic.range.end.character,
];
/** Where `value` (as JSON) is in `line`: the range a diagnostic on it should have. */
function spanOf(line: string, value: unknown): [number, number] {
  const at = line.indexOf(JSON.stringify(value));
  assert.ok(at >= 0);
  return [at, at + JSON.stringify(value).length];
}

describe('language server: batch files in the editor', () => {
  let editor: Editor;
  let initialized: InitializeResult;
  let uriCount = 0;
  const uri = (name = 'batch'): string => `file:///project/${name}-${++uriCount}.jsonl`;

  before(async () => {
    const dataDir = tempDir();
    mkdirSync(dataDir, { recursive: true });
    const db = {
      version: 1,
      files: [],
      batches: [],
      settings: {},
      models: { [CALIBRATED]: { calibration: { mean: FACTOR, variance: 0, observations: 5 } } },
    };
    writeFileSync(join(dataDir, 'db.json'), JSON.stringify(db));
    editor = new Editor(dataDir);
    initialized = await editor.start();
  });
  after(() => editor.dispose());
  beforeEach(() => {
    editor.settings = {};
  });

  it('announces incremental sync, hover and code lens, and asks to hear of settings changes', async () => {
    assert.equal(initialized.capabilities.textDocumentSync, 2);
    assert.equal(initialized.capabilities.hoverProvider, true);
    assert.deepEqual(initialized.capabilities.codeActionProvider, { codeActionKinds: ['quickfix'] });
    assert.deepEqual(initialized.capabilities.codeLensProvider, { resolveProvider: false });
    assert.deepEqual(await editor.registrations, ['workspace/didChangeConfiguration']);
  });

  it("puts each of the validator's errors on its line and value", async () => {
    const lines = [
      jsonl(request(1)),
      '{"custom_id": "req-2", ',
      jsonl(request(3, (line) => delete line.custom_id)),
      jsonl(request(1)),
      jsonl(request(5, (line) => (line.method = 'GET'))),
      jsonl(request(6, (line) => (line.url = '/v1/embeddings'))),
      jsonl(request(7, (line) => delete line.body.model)),
      jsonl(request(8, (line) => (line.body.messages = []))),
      jsonl(request(9, () => undefined, 'other')),
    ];
    const document = uri();
    await editor.open(document, lines.join('\r\n'));
    const { diagnostics, version } = await editor.diagnostics(document);
    assert.equal(version, 1);
    const body = JSON.parse(lines[6]!).body;
    assert.deepEqual(diagnostics.map(summary), [
      [1, 'invalid_json_line', 0, lines[1]!.length],
      [2, 'invalid_request', 0, lines[2]!.length],
      [3, 'duplicate_custom_id', ...spanOf(lines[3]!, 'req-1')],
      [4, 'invalid_request', ...spanOf(lines[4]!, 'GET')],
      [5, 'url_mismatch', ...spanOf(lines[5]!, '/v1/embeddings')],
      [6, 'invalid_request', ...spanOf(lines[6]!, body)], // no model: its body
      [7, 'invalid_request', ...spanOf(lines[7]!, [])],
      [8, 'model_mismatch', ...spanOf(lines[8]!, 'other')],
    ]);
    for (const diagnostic of diagnostics) {
      assert.equal(diagnostic.severity, DiagnosticSeverity.Error);
      assert.equal(diagnostic.source, 'ollama-batch');
      assert.doesNotMatch(messageOf(diagnostic), /line \d+:/);
    }
    assert.match(messageOf(diagnostics[2]!), /custom_id "req-1" is used more than once: first on line 1$/);
    const [firstLine, firstEnd] = spanOf(lines[0]!, 'req-1');
    assert.deepEqual(diagnostics[2]!.relatedInformation, [
      {
        location: {
          uri: document,
          range: { start: { line: 0, character: firstLine }, end: { line: 0, character: firstEnd } },
        },
        message: 'first use of custom_id "req-1"',
      },
    ]);
    assert.ok(diagnostics.every((diagnostic, index) => index === 2 || diagnostic.relatedInformation === undefined));
    assert.match(messageOf(diagnostics[7]!), /differs from "tiny" on line 1/);
  });

  it('offers quick fixes for a stray BOM, a duplicate custom_id and a missing method, whose edits make the lines valid', async () => {
    const noMethod = request(4, (line) => delete line.method);
    const lines = [
      `\uFEFF${jsonl(request(1))}`,
      `\uFEFF\uFEFF${jsonl(request(2))}`, // two files joined with `cat`: the reader takes one BOM, not two
      jsonl(request(1)),
      jsonl(noMethod),
      jsonl(request(5, (line) => (line.method = 'post'))),
      jsonl(request(6, (line) => (line.custom_id = 'req-1-2'))), // so the rename must skip req-1-2
    ];
    const document = uri();
    await editor.open(document, lines.join('\n'));
    const { diagnostics } = await editor.diagnostics(document);
    assert.deepEqual(
      diagnostics.map((diagnostic) => [diagnostic.range.start.line, diagnostic.code]),
      [
        [1, 'invalid_json_line'],
        [2, 'duplicate_custom_id'],
        [3, 'invalid_request'],
        [4, 'invalid_request'],
      ],
    );
    const fixed = [...lines];
    const titles: string[] = [];
    for (const diagnostic of diagnostics) {
      const actions = (await editor.codeActions(document, [diagnostic]))!;
      assert.equal(actions.length, 1, `one fix for line ${diagnostic.range.start.line}`);
      const [action] = actions;
      titles.push(action!.title);
      assert.equal(action!.kind, 'quickfix');
      assert.deepEqual(action!.diagnostics, [diagnostic]);
      const [edit] = action!.edit!.changes![document]!;
      const { line, character: start } = edit!.range.start;
      assert.equal(edit!.range.end.line, line);
      fixed[line] = fixed[line]!.slice(0, start) + edit!.newText + fixed[line]!.slice(edit!.range.end.character);
    }
    assert.deepEqual(titles, [
      'Remove the byte order mark',
      'Rename this custom_id to "req-1-3"',
      'Add "method": "POST"',
      'Set method to "POST"',
    ]);
    // The duplicate's first use, on a line the reader takes a BOM from: the range skips the BOM.
    const [idStart, idEnd] = spanOf(lines[0]!, 'req-1');
    assert.deepEqual(diagnostics[1]!.relatedInformation![0]!.location.range, {
      start: { line: 0, character: idStart },
      end: { line: 0, character: idEnd },
    });
    assert.deepEqual(JSON.parse(fixed[3]!), { ...noMethod, method: 'POST' });
    assert.equal(Object.keys(JSON.parse(fixed[3]!))[1], 'method', 'after the custom_id, as OpenAI writes it');
    await editor.change(document, 2, fixed.join('\n'));
    assert.deepEqual((await editor.diagnostics(document)).diagnostics, []);
    const valid = uri();
    await editor.open(valid, jsonl(request(1)));
    await editor.diagnostics(valid);
    assert.deepEqual(
      await editor.codeActions(valid, [
        {
          range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } },
          message: 'theirs',
          source: 'other',
        },
      ]),
      [],
      "no fix for another tool's diagnostic",
    );
  });

  it('leaves other JSON Lines files alone', async () => {
    const document = uri('events');
    await editor.open(document, jsonl({ event: 'start' }, 'not json', { event: 'stop', custom: 1 }), 'json');
    assert.deepEqual((await editor.diagnostics(document)).diagnostics, []);
    assert.deepEqual(await editor.codeLens(document), []);
    assert.equal(await editor.hover(document, 0), null);
  });

  it('warns of a request that will not fit num_ctx, with the numbers, and says so on hover', async () => {
    editor.settings = { numCtx: 4096 };
    const long = request(2, (line) => {
      line.body.model = CALIBRATED;
      line.body.messages[1].content = 'word '.repeat(4000);
      line.body.max_tokens = 256;
    });
    const document = uri();
    await editor.open(
      document,
      jsonl(
        request(1, () => undefined, CALIBRATED),
        long,
      ),
    );
    const { diagnostics } = await editor.diagnostics(document);
    const promptTokens = Math.ceil(new PromptCounter().messages(long.body.messages) * FACTOR);
    assert.ok(promptTokens > 4096);
    assert.equal(diagnostics.length, 1);
    const [warning] = diagnostics;
    assert.equal(warning!.severity, DiagnosticSeverity.Warning);
    assert.equal(warning!.code, 'context_length_exceeded');
    assert.equal(warning!.range.start.line, 1);
    assert.equal(
      messageOf(warning!),
      `This request may not fit the context: about ${promptTokens} prompt tokens + 256 for the answer; num_ctx is 4096.`,
    );

    const over = ((await editor.hover(document, 1))!.contents as MarkupContent).value;
    assert.match(over, /`req-2`/);
    assert.match(over, new RegExp(`Prompt: about ${promptTokens} tokens, calibrated for \`calibrated\` \\(×1\\.20\\)`));
    assert.match(over, /Answer: up to 256 tokens \(max_tokens\)/);
    assert.match(over, /num_ctx 4096 \(ollamaBatch\.numCtx\): \*\*Does not fit\*\*/);
    const fits = ((await editor.hover(document, 0))!.contents as MarkupContent).value;
    assert.match(fits, /Answer: up to 8 tokens \(max_tokens\)/);
    assert.match(fits, /: Fits: \d+ of 4096 tokens/);
  });

  it('shows an uncalibrated estimate with its safety margin against the default num_ctx', async () => {
    const document = uri();
    await editor.open(document, jsonl(request(1, (line) => delete line.body.max_tokens)));
    assert.deepEqual((await editor.diagnostics(document)).diagnostics, []);
    const text = ((await editor.hover(document, 0))!.contents as MarkupContent).value;
    assert.match(text, /with a 15% safety margin: `tiny` is not calibrated yet/);
    assert.match(text, /Answer: no max_tokens set, so 1024 tokens are kept free for it/);
    assert.match(text, /num_ctx 8192 \(default\): Fits/);
    assert.equal(await editor.hover(uri(), 0), null, 'a document that is not open');
  });

  it('offers Run and Validate on the first line of a batch file', async () => {
    const document = uri();
    await editor.open(document, jsonl(request(1)));
    await editor.diagnostics(document);
    assert.deepEqual(await editor.codeLens(document), [
      {
        range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
        command: { title: '▶ Run batch', command: 'ollamaBatch.runBatch', arguments: [document] },
      },
      {
        range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
        command: { title: 'Validate', command: 'ollamaBatch.validateBatchFile', arguments: [document] },
      },
    ]);
  });

  it('validates again with fresh settings when they change', async () => {
    const document = uri();
    await editor.open(document, jsonl(request(1, (line) => (line.body.messages[1].content = 'word '.repeat(1500)))));
    assert.deepEqual((await editor.diagnostics(document)).diagnostics, []);
    const asked = editor.configurationAsked.filter((scope) => scope === document).length;
    editor.settings = { numCtx: 1024 };
    await editor.client.sendNotification('workspace/didChangeConfiguration', { settings: null });
    const { diagnostics } = await editor.diagnostics(document);
    assert.deepEqual(
      diagnostics.map((diagnostic) => [diagnostic.code, diagnostic.severity]),
      [['context_length_exceeded', DiagnosticSeverity.Warning]],
    );
    assert.match(messageOf(diagnostics[0]!), /num_ctx is 1024\.$/);
    assert.equal(editor.configurationAsked.filter((scope) => scope === document).length, asked + 1);
  });

  it('validates 50,000 lines, and publishes only the newest version', async () => {
    const big = batchLines(50_000, { model: MODEL });
    const document = uri('big');
    await editor.open(document, big + JSON.stringify(request(7)));
    const { diagnostics } = await editor.diagnostics(document);
    assert.deepEqual(diagnostics.map(summary), [
      [50_000, 'duplicate_custom_id', ...spanOf(JSON.stringify(request(7)), 'req-7')],
    ]);

    // Edited while its first pass runs: that pass is dropped, the new version published.
    const edited = uri('big');
    const lines = big.split('\n');
    lines[30_000] = JSON.stringify(request(12));
    let changed: Promise<void> | undefined;
    editor.onConfigurationAnswered = (scope) => {
      if (scope === edited) changed ??= editor.change(edited, 2, lines.join('\n'));
    };
    await editor.open(edited, big);
    const published = await editor.diagnostics(edited);
    await changed;
    assert.equal(published.version, 2);
    assert.deepEqual(
      published.diagnostics.map((diagnostic) => [diagnostic.range.start.line, diagnostic.code]),
      [[30_000, 'duplicate_custom_id']],
    );
    assert.equal(editor.pending(edited), 0);
  });

  it('lists the first 1,000 problems and counts the rest', async () => {
    const document = uri();
    await editor.open(document, [jsonl(request(1)), ...Array.from({ length: 1_500 }, () => 'not json')].join('\n'));
    const { diagnostics } = await editor.diagnostics(document);
    assert.equal(diagnostics.length, 1_001);
    const last = diagnostics.at(-1)!;
    assert.deepEqual(
      [last.severity, last.range.start.line, messageOf(last)],
      [DiagnosticSeverity.Information, 0, '500 more problems are not listed (the first 1000 are).'],
    );
  });

  it('clears the diagnostics of a closed document', async () => {
    const document = uri();
    await editor.open(document, '{"custom_id": 1}');
    assert.equal((await editor.diagnostics(document)).diagnostics.length, 1);
    await editor.client.sendNotification('textDocument/didClose', { textDocument: { uri: document } });
    assert.deepEqual((await editor.diagnostics(document)).diagnostics, []);
  });
});

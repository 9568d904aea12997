// Bad input gets a clear error naming the file, the line and the field.
import assert from 'node:assert/strict';
import { validateBatchFile } from '../../server/batches/validate.js';
import { batchLines, requestLine, writeTempFile } from '../support/batch-files.js';

const line = (index: number, change: (request: Record<string, any>) => void = () => undefined): string => {
  const request = requestLine(index, { model: 'tiny' }) as Record<string, any>;
  change(request);
  return JSON.stringify(request);
};

async function errorsOf(content: string | Buffer, name = 'batch.jsonl') {
  return validateBatchFile(writeTempFile(name, content));
}

describe('batch file validation', () => {
  it('accepts a valid file, CRLF line ends and blank lines', async () => {
    const report = await errorsOf(`${line(1)}\r\n\r\n${line(2)}\r\n${line(3)}`);
    assert.deepEqual(report.errors, []);
    assert.equal(report.requests, 3);
    assert.equal(report.model, 'tiny');
  });

  it('refuses an empty file', async () => {
    const report = await errorsOf('\n\n');
    assert.equal(report.errors[0]!.code, 'empty_file');
    assert.match(report.errors[0]!.message, /batch\.jsonl/);
  });

  it('names the line of invalid JSON, and keeps going to list the others', async () => {
    const report = await errorsOf([line(1), '{"custom_id": "x", ', line(3), 'not json at all'].join('\n'));
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line]),
      [
        ['invalid_json_line', 2],
        ['invalid_json_line', 4],
      ],
    );
    assert.match(report.errors[0]!.message, /^batch\.jsonl line 2: not valid JSON/);
  });

  it('finds a duplicate custom_id and names the line it was first on', async () => {
    const report = await errorsOf([line(2), line(1), line(3), line(1)].join('\n'));
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line, error.param]),
      [['duplicate_custom_id', 4, 'custom_id']],
    );
    assert.match(
      report.errors[0]!.message,
      /^batch\.jsonl line 4: custom_id "req-1" is used more than once: first on line 2$/,
    );
  });

  it('finds a wrong url and a wrong method', async () => {
    const report = await errorsOf(
      [line(1, (r) => (r.url = '/v1/embeddings')), line(2, (r) => (r.method = 'GET'))].join('\n'),
    );
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line, error.param]),
      [
        ['url_mismatch', 1, 'url'],
        ['invalid_request', 2, 'method'],
      ],
    );
  });

  it('finds a missing model, missing messages and a bad max_tokens', async () => {
    const report = await errorsOf(
      [
        line(1, (r) => delete r.body.model),
        line(2, (r) => (r.body.messages = [])),
        line(3, (r) => (r.body.max_tokens = -5)),
        line(4, (r) => (r.body.messages[1].role = 'robot')),
      ].join('\n'),
    );
    assert.deepEqual(
      report.errors.map((error) => [error.line, error.param]),
      [
        [1, 'body.model'],
        [2, 'body.messages'],
        [3, 'body.max_tokens'],
        [4, 'body.messages[1].role'],
      ],
    );
    assert.match(report.errors[0]!.message, /line 1: body\.model is missing/);
  });

  it('refuses two models in one file, naming where the first one was', async () => {
    const report = await errorsOf([line(1), line(2, (r) => (r.body.model = 'other'))].join('\n'));
    assert.equal(report.errors[0]!.code, 'model_mismatch');
    assert.equal(report.errors[0]!.line, 2);
    assert.match(report.errors[0]!.message, /"other" differs from "tiny" on line 1/);
  });

  it('refuses invalid UTF-8 with the line number', async () => {
    const bad = Buffer.concat([
      Buffer.from(line(1) + '\n'),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
      Buffer.from(line(3)),
    ]);
    const report = await errorsOf(bad);
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line]),
      [['invalid_json_line', 2]],
    );
    assert.match(report.errors[0]!.message, /not valid UTF-8/);
  });

  it('refuses a 10 MB line without holding it, and goes on after it', async () => {
    const huge = line(2, (r) => (r.body.messages[1].content = 'x'.repeat(10 * 1024 * 1024)));
    const report = await errorsOf([line(1), huge, line(3)].join('\n'));
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line]),
      [['line_too_large', 2]],
    );
    assert.match(report.errors[0]!.message, /limit is 8388608 bytes/);
    assert.equal(report.requests, 3);
  });

  it('refuses a file that is not JSONL at all (a CSV)', async () => {
    const report = await errorsOf('candidate_id,name\nC1,Ana\nC2,Bo\n', 'people.csv');
    assert.equal(report.errorCount, 3);
    assert.ok(report.errors.every((error) => error.code === 'invalid_json_line'));
    assert.match(report.errors[0]!.message, /^people\.csv line 1/);
  });

  it('caps the listed errors and says how many more there are', async () => {
    const report = await errorsOf('nope\n'.repeat(250));
    assert.equal(report.errorCount, 250);
    assert.equal(report.errors.length, 101);
    assert.equal(report.errors.at(-1)!.code, 'too_many_errors');
    assert.match(report.errors.at(-1)!.message, /150 more errors/);
  });

  it('asks once whether the engine serves the model, and names the line that first asks for it', async () => {
    const asked: string[] = [];
    const path = writeTempFile('batch.jsonl', `\n${batchLines(1000, { model: 'gemma3:12b' })}`);
    const report = await validateBatchFile(path, {
      modelProblem: async (model) => {
        asked.push(model);
        return 'not here';
      },
    });
    assert.deepEqual(asked, ['gemma3:12b']);
    assert.deepEqual(report.errors, [
      { code: 'model_not_found', param: 'body.model', line: 2, message: 'batch.jsonl line 2: not here' },
    ]);
  });

  it('streams a large file in flat memory', async () => {
    const path = writeTempFile('big.jsonl', batchLines(50_000, { model: 'tiny' }));
    const report = await validateBatchFile(path);
    assert.equal(report.requests, 50_000);
    assert.equal(report.errorCount, 0);
  });
});

// The daemon never dies of its input (issue 12): one real daemon process takes a table of bad
// input of every kind (JSONL contents through the official openai client, uploads, ids, HTTP
// abuse, JSON-RPC garbage, races), each row its own test. Every row must get a clear answer with
// the right status or code, the daemon must be alive and serving after every one, and at the end
// its log has no unhandled error and its files/ folder holds nothing the daemon does not list.
// Over 300 cases; the suite's name says how many, per category. Run alone, it takes under a minute.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, watch } from 'node:fs';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import type { BatchOutputLine } from '../../server/openai/types.js';
import type { Batch } from '../../server/protocol/openai.js';
import { TERMINAL_STATUSES } from '../../server/protocol/openai.js';
import * as protocol from '../../server/protocol/methods.js';
import { tempDir, writeTempFile } from '../support/batch-files.js';
import {
  filePath,
  isFinished,
  openaiClient,
  startDaemonProcess,
  waitForBatch,
  type DaemonProcess,
} from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertExactlyOnce, readJsonl } from '../support/shapes.js';
import {
  bodyJson,
  frame,
  multipartBody,
  openSocket,
  socketExchange,
  strayFiles,
  WireClient,
  type FormPart,
  type RpcMessage,
  type SocketAnswer,
} from '../support/wire.js';
import { raw, type RawResponse } from '../http/raw-http.js';

const ENDPOINT = '/v1/chat/completions';
const MAX_UPLOAD_MB = 12;
const MiB = 1024 * 1024;
const DEEP = 100_000;

// ---- shared state of the one daemon (set in the root `before`; the tables read it when they run)

let emulator: RunningEmulator;
let daemon: DaemonProcess;
let dataDir: string;
let base: string;
let client: OpenAI;

// ---- JSONL contents

type Line = Record<string, any>;

/** A valid request line for custom_id `id`, edited by `edit`. */
function request(id: unknown, edit?: (line: Line) => void): string {
  const line: Line = {
    custom_id: id,
    method: 'POST',
    url: ENDPOINT,
    body: {
      model: 'tiny',
      messages: [
        { role: 'system', content: 'Score the text.' },
        { role: 'user', content: `Text ${String(id)}` },
      ],
      max_tokens: 8,
      temperature: 0,
    },
  };
  edit?.(line);
  return JSON.stringify(line);
}
/** A request line whose field set to the marker is replaced by raw JSON text (what JSON.stringify cannot write: 1e400, deep nesting). */
const withRaw = (id: string, edit: (line: Line, marker: string) => void, text: string): string =>
  request(id, (line) => edit(line, '__RAW__')).replace('"__RAW__"', text);
const jsonl = (...lines: Array<string | Buffer>): Buffer =>
  Buffer.concat(lines.flatMap((line) => [Buffer.isBuffer(line) ? line : Buffer.from(line), Buffer.from('\n')]));
/** Lines a and c valid, line 2 edited. */
const middle = (edit: (line: Line) => void): Buffer => jsonl(request('a'), request('b', edit), request('c'));
/** Lines a and c valid, line 2 as given. */
const middleRaw = (line: string | Buffer): Buffer => jsonl(request('a'), line, request('c'));

type ExpectedError = [code: string, line: number | null, param?: string | null];
type JsonlExpected =
  /** The batch fails at validation with exactly these errors. */
  | { failed: ExpectedError[] }
  /** The batch completes, every one of these custom_ids answered once, none in the error file. */
  | { completed: string[] }
  /** Anything else: a check of the ended batch. */
  | { check: (batch: Batch) => void | Promise<void> };

interface JsonlCase {
  name: string;
  input: Buffer | string;
  expected: JsonlExpected;
}

const deepArrays = '['.repeat(DEEP) + ']'.repeat(DEEP);
const deepObjects = '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP);
const deepSchema = '{"type":"object","properties":{"a":'.repeat(DEEP) + '{"type":"string"}' + '}}'.repeat(DEEP);
const BOM = '\uFEFF';

/**
 * A batch that ended, with every line accounted for: failed at validation naming line 2 with
 * `param`, or completed with a, b and c each once in the output or error file.
 */
const failsOnLine2OrAccountsFor =
  (param: string) =>
  async (batch: Batch): Promise<void> => {
    assert.ok(TERMINAL_STATUSES.includes(batch.status), batch.status);
    if (batch.status === 'failed') {
      assert.deepEqual(
        batch.errors?.data.map(({ code, line, param }) => [code, line, param]),
        [['invalid_request', 2, param]],
        JSON.stringify(batch.errors),
      );
      return;
    }
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    assertExactlyOnce(
      ['a', 'b', 'c'],
      await filePath(daemon.connection, batch.output_file_id),
      await filePath(daemon.connection, batch.error_file_id),
      batch,
    );
  };

const JSONL_CASES: JsonlCase[] = [
  // Not JSON, or not an object.
  {
    name: 'a line that is not valid JSON',
    input: middleRaw('{"custom_id": "b", "method": "POST",'),
    expected: { failed: [['invalid_json_line', 2]] },
  },
  { name: 'a JSON array as a line', input: middleRaw('[1, 2, 3]'), expected: { failed: [['invalid_json_line', 2]] } },
  { name: 'a JSON number as a line', input: middleRaw('42'), expected: { failed: [['invalid_json_line', 2]] } },
  { name: 'a JSON string as a line', input: middleRaw('"a string"'), expected: { failed: [['invalid_json_line', 2]] } },
  { name: 'null as a line', input: middleRaw('null'), expected: { failed: [['invalid_json_line', 2]] } },
  {
    name: 'an object followed by garbage on its line',
    input: middleRaw(`${request('b')} trailing`),
    expected: { failed: [['invalid_json_line', 2]] },
  },
  {
    name: 'two objects on one line',
    input: middleRaw(request('b') + request('x')),
    expected: { failed: [['invalid_json_line', 2]] },
  },
  {
    name: 'lines separated by a lone CR (old Mac line ends): one line',
    input: `${request('a')}\r${request('b')}\r`,
    expected: { failed: [['invalid_json_line', 1]] },
  },
  // custom_id
  { name: 'an empty object', input: middleRaw('{}'), expected: { failed: [['invalid_request', 2, 'custom_id']] } },
  {
    name: 'a missing custom_id',
    input: middle((line) => delete line.custom_id),
    expected: { failed: [['invalid_request', 2, 'custom_id']] },
  },
  {
    name: 'an empty custom_id',
    input: jsonl(request('a'), request(''), request('c')),
    expected: { failed: [['invalid_request', 2, 'custom_id']] },
  },
  {
    name: 'a number as custom_id',
    input: jsonl(request('a'), request(7), request('c')),
    expected: { failed: [['invalid_request', 2, 'custom_id']] },
  },
  {
    name: 'null as custom_id',
    input: jsonl(request('a'), request(null), request('c')),
    expected: { failed: [['invalid_request', 2, 'custom_id']] },
  },
  {
    name: 'an object as custom_id',
    input: jsonl(request('a'), request({ id: 'b' }), request('c')),
    expected: { failed: [['invalid_request', 2, 'custom_id']] },
  },
  {
    name: 'an array as custom_id',
    input: jsonl(request('a'), request(['b']), request('c')),
    expected: { failed: [['invalid_request', 2, 'custom_id']] },
  },
  {
    name: 'a duplicate custom_id',
    input: jsonl(request('a'), request('b'), request('a')),
    expected: { failed: [['duplicate_custom_id', 3, 'custom_id']] },
  },
  {
    name: 'one custom_id three times',
    input: jsonl(request('a'), request('a'), request('a')),
    expected: {
      failed: [
        ['duplicate_custom_id', 2, 'custom_id'],
        ['duplicate_custom_id', 3, 'custom_id'],
      ],
    },
  },
  // method and url
  {
    name: 'method GET',
    input: middle((line) => (line.method = 'GET')),
    expected: { failed: [['invalid_request', 2, 'method']] },
  },
  {
    name: 'a missing method',
    input: middle((line) => delete line.method),
    expected: { failed: [['invalid_request', 2, 'method']] },
  },
  {
    name: 'method "post" in lower case',
    input: middle((line) => (line.method = 'post')),
    expected: { failed: [['invalid_request', 2, 'method']] },
  },
  {
    name: 'url of another endpoint',
    input: middle((line) => (line.url = '/v1/embeddings')),
    expected: { failed: [['url_mismatch', 2, 'url']] },
  },
  {
    name: 'a missing url',
    input: middle((line) => delete line.url),
    expected: { failed: [['url_mismatch', 2, 'url']] },
  },
  {
    name: 'the url with a trailing slash',
    input: middle((line) => (line.url = `${ENDPOINT}/`)),
    expected: { failed: [['url_mismatch', 2, 'url']] },
  },
  // body
  {
    name: 'a missing body',
    input: middle((line) => delete line.body),
    expected: { failed: [['invalid_request', 2, 'body']] },
  },
  {
    name: 'a string as body',
    input: middle((line) => (line.body = 'hello')),
    expected: { failed: [['invalid_request', 2, 'body']] },
  },
  {
    name: 'an array as body',
    input: middle((line) => (line.body = [line.body])),
    expected: { failed: [['invalid_request', 2, 'body']] },
  },
  {
    name: 'a missing model',
    input: middle((line) => delete line.body.model),
    expected: { failed: [['invalid_request', 2, 'body.model']] },
  },
  {
    name: 'a blank model',
    input: middle((line) => (line.body.model = '   ')),
    expected: { failed: [['invalid_request', 2, 'body.model']] },
  },
  {
    name: 'a number as model',
    input: middle((line) => (line.body.model = 12)),
    expected: { failed: [['invalid_request', 2, 'body.model']] },
  },
  {
    name: 'missing messages',
    input: middle((line) => delete line.body.messages),
    expected: { failed: [['invalid_request', 2, 'body.messages']] },
  },
  {
    name: 'empty messages',
    input: middle((line) => (line.body.messages = [])),
    expected: { failed: [['invalid_request', 2, 'body.messages']] },
  },
  {
    name: 'messages as an object',
    input: middle((line) => (line.body.messages = { role: 'user', content: 'hi' })),
    expected: { failed: [['invalid_request', 2, 'body.messages']] },
  },
  {
    name: 'a message role that does not exist',
    input: middle((line) => (line.body.messages[1].role = 'wizard')),
    expected: { failed: [['invalid_request', 2, 'body.messages[1].role']] },
  },
  {
    name: 'a message without a role',
    input: middle((line) => delete line.body.messages[0].role),
    expected: { failed: [['invalid_request', 2, 'body.messages[0].role']] },
  },
  {
    name: 'a message that is a string',
    input: middle((line) => (line.body.messages[0] = 'You score texts.')),
    expected: { failed: [['invalid_request', 2, 'body.messages[0].role']] },
  },
  {
    name: 'a number as content',
    input: middle((line) => (line.body.messages[1].content = 5)),
    expected: { failed: [['invalid_request', 2, 'body.messages[1].content']] },
  },
  {
    name: 'null content in a user message',
    input: middle((line) => (line.body.messages[1].content = null)),
    expected: { failed: [['invalid_request', 2, 'body.messages[1].content']] },
  },
  {
    name: 'max_tokens 0',
    input: middle((line) => (line.body.max_tokens = 0)),
    expected: { failed: [['invalid_request', 2, 'body.max_tokens']] },
  },
  {
    name: 'negative max_tokens',
    input: middle((line) => (line.body.max_tokens = -1)),
    expected: { failed: [['invalid_request', 2, 'body.max_tokens']] },
  },
  {
    name: 'fractional max_tokens',
    input: middle((line) => (line.body.max_tokens = 1.5)),
    expected: { failed: [['invalid_request', 2, 'body.max_tokens']] },
  },
  {
    name: 'max_tokens as a string',
    input: middle((line) => (line.body.max_tokens = '100')),
    expected: { failed: [['invalid_request', 2, 'body.max_tokens']] },
  },
  {
    name: 'max_completion_tokens true',
    input: middle((line) => (line.body.max_completion_tokens = true)),
    expected: { failed: [['invalid_request', 2, 'body.max_completion_tokens']] },
  },
  {
    name: 'temperature as a string',
    input: middle((line) => (line.body.temperature = 'hot')),
    expected: { failed: [['invalid_request', 2, 'body.temperature']] },
  },
  {
    name: 'top_p as an array',
    input: middle((line) => (line.body.top_p = [])),
    expected: { failed: [['invalid_request', 2, 'body.top_p']] },
  },
  {
    name: 'seed as a string',
    input: middle((line) => (line.body.seed = 'lucky')),
    expected: { failed: [['invalid_request', 2, 'body.seed']] },
  },
  {
    name: 'response_format as a string',
    input: middle((line) => (line.body.response_format = 'json')),
    expected: { failed: [['invalid_request', 2, 'body.response_format.type']] },
  },
  {
    name: 'response_format of an unknown type',
    input: middle((line) => (line.body.response_format = { type: 'xml' })),
    expected: { failed: [['invalid_request', 2, 'body.response_format.type']] },
  },
  {
    name: 'response_format without a type',
    input: middle((line) => (line.body.response_format = {})),
    expected: { failed: [['invalid_request', 2, 'body.response_format.type']] },
  },
  {
    name: 'a json_schema response_format without a schema',
    input: middle((line) => (line.body.response_format = { type: 'json_schema', json_schema: { name: 'x' } })),
    expected: { failed: [['invalid_request', 2, 'body.response_format.json_schema.schema']] },
  },
  {
    name: 'a json_schema response_format whose schema is an array',
    input: middle(
      (line) => (line.body.response_format = { type: 'json_schema', json_schema: { name: 'x', schema: [] } }),
    ),
    expected: { failed: [['invalid_request', 2, 'body.response_format.json_schema.schema']] },
  },
  {
    name: 'stream: true',
    input: middle((line) => (line.body.stream = true)),
    expected: { failed: [['unsupported_parameter', 2, 'body.stream']] },
  },
  {
    name: 'a second model in the file',
    input: middle((line) => (line.body.model = 'other')),
    expected: { failed: [['model_mismatch', 2, 'body.model']] },
  },
  // Empty, blank, line ends, byte order marks.
  { name: 'an empty file', input: '', expected: { failed: [['empty_file', 1]] } },
  { name: 'a file of blank lines only', input: '\n\n   \n\t\n\r\n', expected: { failed: [['empty_file', 1]] } },
  {
    name: 'CRLF line ends',
    input: [request('a'), request('b'), request('c')].join('\r\n') + '\r\n',
    expected: { completed: ['a', 'b', 'c'] },
  },
  {
    name: 'blank lines between requests',
    input: `\n${request('a')}\n\n   \n${request('b')}\n\n`,
    expected: { completed: ['a', 'b'] },
  },
  {
    name: 'no newline after the last line',
    input: `${request('a')}\n${request('b')}`,
    expected: { completed: ['a', 'b'] },
  },
  {
    name: 'a byte order mark at the start',
    input: BOM + jsonl(request('a'), request('b')).toString(),
    expected: { completed: ['a', 'b'] },
  },
  {
    name: 'a byte order mark on a middle line',
    input: `${request('a')}\n${BOM}${request('b')}\n`,
    expected: { completed: ['a', 'b'] },
  },
  {
    name: 'two byte order marks at the start',
    input: BOM + BOM + jsonl(request('a')).toString(),
    expected: { failed: [['invalid_json_line', 1]] },
  },
  // Bytes that are not UTF-8 text, NUL bytes.
  {
    name: 'invalid UTF-8 bytes in a string',
    input: middleRaw(
      Buffer.concat([Buffer.from('{"custom_id": "b'), Buffer.from([0xff, 0xfe]), Buffer.from('", "method": "POST"}')]),
    ),
    expected: { failed: [['invalid_json_line', 2]] },
  },
  {
    name: 'a truncated multi-byte sequence',
    input: middleRaw(
      Buffer.concat([
        Buffer.from(request('b').slice(0, 30)),
        Buffer.from([0xe2, 0x82]),
        Buffer.from(request('b').slice(30)),
      ]),
    ),
    expected: { failed: [['invalid_json_line', 2]] },
  },
  {
    name: 'a UTF-16 file',
    input: Buffer.from(BOM + request('a') + '\n', 'utf16le'),
    expected: {
      failed: [
        ['invalid_json_line', 1],
        ['invalid_json_line', 2],
      ],
    },
  },
  {
    name: 'a NUL byte between tokens',
    input: middleRaw(Buffer.concat([Buffer.from('{"custom_id":'), Buffer.from([0]), Buffer.from('"b"}')])),
    expected: { failed: [['invalid_json_line', 2]] },
  },
  {
    name: 'a raw NUL byte inside a string',
    input: middleRaw(request('b').replace('Text b', 'Text \u0000b')),
    expected: { failed: [['invalid_json_line', 2]] },
  },
  {
    name: 'an escaped NUL (\\u0000) inside a string',
    input: middle((line) => (line.body.messages[1].content = 'Text \u0000 b')),
    expected: { completed: ['a', 'b', 'c'] },
  },
  // Sizes and depths.
  {
    name: 'a 9 MiB line (over the 8 MiB line limit)',
    input: middle((line) => (line.body.messages[1].content = 'x'.repeat(9 * MiB))),
    expected: { failed: [['line_too_large', 2]] },
  },
  {
    name: 'a 9 MiB file without any newline',
    input: request('a', (line) => (line.body.messages[1].content = 'y'.repeat(9 * MiB))),
    expected: { failed: [['line_too_large', 1]] },
  },
  {
    name: `${DEEP.toLocaleString('en')} nested arrays as a line`,
    input: middleRaw(deepArrays),
    expected: { failed: [['invalid_json_line', 2]] },
  },
  {
    name: `${DEEP.toLocaleString('en')} nested objects in a field the engine never reads`,
    input: middleRaw(withRaw('b', (line, marker) => (line.body.metadata = marker), deepObjects)),
    expected: { completed: ['a', 'b', 'c'] },
  },
  {
    name: `${DEEP.toLocaleString('en')} nested arrays as a message's content`,
    input: middleRaw(withRaw('b', (line, marker) => (line.body.messages[1].content = marker), deepArrays)),
    expected: { check: failsOnLine2OrAccountsFor('body.messages[1].content') },
  },
  {
    name: `a JSON schema ${DEEP.toLocaleString('en')} levels deep`,
    input: middleRaw(
      withRaw(
        'b',
        (line, marker) =>
          (line.body.response_format = { type: 'json_schema', json_schema: { name: 'deep', schema: marker } }),
        deepSchema,
      ),
    ),
    expected: {
      check: async (batch) => {
        await failsOnLine2OrAccountsFor('body.response_format.json_schema.schema')(batch);
        if (batch.status !== 'completed') return;
        // Run, the line is the request's fault: said as such, not retried as a lost connection.
        const [line] = readJsonl<BatchOutputLine>(await filePath(daemon.connection, batch.error_file_id!)).filter(
          (each) => each.custom_id === 'b',
        );
        if (!line) return;
        assert.notEqual(line.error?.code, 'connection_error', JSON.stringify(line).slice(0, 300));
        assert.equal(line.ollama_batch?.attempts ?? 1, 1, 'a request that cannot be sent is not retried');
      },
    },
  },
  {
    name: 'max_tokens 1e400 (Infinity once parsed)',
    input: middleRaw(withRaw('b', (line, marker) => (line.body.max_tokens = marker), '1e400')),
    expected: { failed: [['invalid_request', 2, 'body.max_tokens']] },
  },
  {
    name: 'temperature 1e400 (Infinity once parsed)',
    input: middleRaw(withRaw('b', (line, marker) => (line.body.temperature = marker), '1e400')),
    expected: { failed: [['invalid_request', 2, 'body.temperature']] },
  },
  {
    name: 'max_tokens 1e300 (an integer no model has room for)',
    input: middleRaw(withRaw('b', (line, marker) => (line.body.max_tokens = marker), '1e300')),
    expected: { check: failsOnLine2OrAccountsFor('body.max_tokens') },
  },
  {
    name: 'a custom_id of 64 KiB',
    input: jsonl(
      request('a'),
      request('k'.repeat(64 * 1024), (line) => (line.body.messages[1].content = 'Text k')),
    ),
    expected: { completed: ['a', 'k'.repeat(64 * 1024)] },
  },
  // Lone surrogates: valid JSON, not valid Unicode.
  {
    name: 'a lone surrogate (\\ud800) escaped in content',
    input: middleRaw(request('b').replace('Text b', 'Text \\ud800 b')),
    expected: { completed: ['a', 'b', 'c'] },
  },
  {
    name: 'a lone surrogate (\\udfff) escaped in custom_id',
    input: jsonl(request('a'), request('b\udfff')),
    expected: { completed: ['a', 'b\udfff'] },
  },
  // Many errors: the first 100 listed, the rest counted.
  {
    name: '150 lines of garbage',
    input: jsonl(...Array.from({ length: 150 }, (_, index) => `garbage ${index}`)),
    expected: {
      check: (batch) => {
        assert.equal(batch.status, 'failed');
        const errors = batch.errors!.data;
        assert.equal(errors.length, 101);
        assert.ok(
          errors.slice(0, 100).every((error, index) => error.code === 'invalid_json_line' && error.line === index + 1),
        );
        assert.equal(errors[100]!.code, 'too_many_errors');
        assert.match(errors[100]!.message, /50 more errors/);
      },
    },
  },
];

// ---- uploads over raw HTTP

const BOUNDARY = 'bad-input-boundary';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;
const fileField = (filename = 'upload.jsonl', content: string | Buffer = jsonl(request('a'))): FormPart => ({
  name: 'file',
  filename,
  content,
});
const purposeField = (value: string): FormPart => ({ name: 'purpose', content: value });
const form = (...parts: FormPart[]): Buffer => multipartBody(BOUNDARY, parts);

type UploadExpected =
  /** This status and OpenAI error code. */
  | { status: number; code?: string }
  /** A 4xx with OpenAI's error shape, or a 200 whose filename is only a name and whose bytes sit in files/ under the id. */
  | { storedAsName: true }
  /** A 4xx, or the connection closed without an answer (the client broke HTTP itself). */
  | { refusedOrClosed: true };

interface UploadCase {
  name: string;
  /** An HTTP request through node:http, or bytes over a plain socket. */
  input:
    { headers: Record<string, string>; body: Buffer | string } | { socket: (url: string) => Promise<SocketAnswer> };
  expected: UploadExpected;
}

function httpHead(method: string, path: string, headers: Record<string, string | number>): string {
  const { host } = new URL(base);
  return `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n${Object.entries(headers)
    .map(([key, value]) => `${key}: ${value}\r\n`)
    .join('')}\r\n`;
}

const UPLOAD_CASES: UploadCase[] = [
  {
    name: 'no file field',
    input: { headers: { 'content-type': MULTIPART }, body: form(purposeField('batch')) },
    expected: { status: 400, code: 'missing_file' },
  },
  {
    name: 'the file sent as a plain field, without a filename',
    input: {
      headers: { 'content-type': MULTIPART },
      body: form(purposeField('batch'), { name: 'file', content: request('a') }),
    },
    expected: { status: 400, code: 'missing_file' },
  },
  {
    name: 'no purpose field',
    input: { headers: { 'content-type': MULTIPART }, body: form(fileField()) },
    expected: { status: 400, code: 'invalid_purpose' },
  },
  {
    name: 'purpose fine-tune',
    input: { headers: { 'content-type': MULTIPART }, body: form(purposeField('fine-tune'), fileField()) },
    expected: { status: 400, code: 'invalid_purpose' },
  },
  {
    name: "purpose batch_output (the daemon's own)",
    input: { headers: { 'content-type': MULTIPART }, body: form(purposeField('batch_output'), fileField()) },
    expected: { status: 400, code: 'invalid_purpose' },
  },
  {
    name: 'an empty purpose',
    input: { headers: { 'content-type': MULTIPART }, body: form(purposeField(''), fileField()) },
    expected: { status: 400, code: 'invalid_purpose' },
  },
  {
    name: 'a purpose over the field size limit',
    input: {
      headers: { 'content-type': MULTIPART },
      body: form(purposeField(`batch${' '.repeat(4096)}`), fileField()),
    },
    expected: { status: 400, code: 'invalid_purpose' },
  },
  {
    name: 'two purpose fields that disagree',
    input: {
      headers: { 'content-type': MULTIPART },
      body: form(purposeField('fine-tune'), purposeField('batch'), fileField()),
    },
    expected: { status: 400 },
  },
  {
    name: 'two file fields',
    input: {
      headers: { 'content-type': MULTIPART },
      body: form(purposeField('batch'), fileField('one.jsonl'), fileField('two.jsonl', jsonl(request('z')))),
    },
    expected: { status: 400 },
  },
  {
    name: 'Content-Type application/json',
    input: { headers: { 'content-type': 'application/json' }, body: '{"purpose":"batch","file":"a"}' },
    expected: { status: 415, code: 'unsupported_media_type' },
  },
  {
    name: 'Content-Type text/plain',
    input: { headers: { 'content-type': 'text/plain' }, body: request('a') },
    expected: { status: 415, code: 'unsupported_media_type' },
  },
  {
    name: 'no Content-Type',
    input: { headers: {}, body: form(purposeField('batch'), fileField()) },
    expected: { status: 415, code: 'unsupported_media_type' },
  },
  {
    name: 'multipart without a boundary',
    input: { headers: { 'content-type': 'multipart/form-data' }, body: form(purposeField('batch'), fileField()) },
    expected: { status: 400, code: 'invalid_multipart' },
  },
  {
    name: 'a body cut off mid-file (no closing boundary)',
    input: {
      headers: { 'content-type': MULTIPART },
      body: multipartBody(BOUNDARY, [purposeField('batch'), fileField()], false).subarray(0, -20),
    },
    expected: { status: 400, code: 'invalid_multipart' },
  },
  {
    name: 'an empty multipart body',
    input: { headers: { 'content-type': MULTIPART }, body: '' },
    expected: { status: 400, code: 'invalid_multipart' },
  },
  {
    name: 'a body that is not multipart at all',
    input: { headers: { 'content-type': MULTIPART }, body: 'just some text, no parts' },
    expected: { status: 400, code: 'invalid_multipart' },
  },
  {
    name: `an upload over --max-upload-mb ${MAX_UPLOAD_MB}`,
    input: {
      headers: { 'content-type': MULTIPART },
      body: form(purposeField('batch'), fileField('big.jsonl', Buffer.alloc((MAX_UPLOAD_MB + 1) * MiB, 0x20))),
    },
    expected: { status: 413, code: 'file_too_large' },
  },
  {
    name: 'a filename with ../',
    input: {
      headers: { 'content-type': MULTIPART },
      body: form(purposeField('batch'), fileField('../../../../tmp/escaped.jsonl')),
    },
    expected: { storedAsName: true },
  },
  {
    name: 'an absolute filename',
    input: {
      headers: { 'content-type': MULTIPART },
      body: form(purposeField('batch'), fileField('/etc/cron.d/escaped.jsonl')),
    },
    expected: { storedAsName: true },
  },
  {
    name: 'a filename with backslashes',
    input: {
      headers: { 'content-type': MULTIPART },
      body: form(purposeField('batch'), fileField('..\\..\\escaped.jsonl')),
    },
    expected: { storedAsName: true },
  },
  {
    name: 'a filename with a NUL byte',
    input: { headers: { 'content-type': MULTIPART }, body: form(purposeField('batch'), fileField('a\u0000.jsonl')) },
    expected: { storedAsName: true },
  },
  {
    name: 'a filename of 8 KiB',
    input: {
      headers: { 'content-type': MULTIPART },
      body: form(purposeField('batch'), fileField(`${'n'.repeat(8192)}.jsonl`)),
    },
    expected: { storedAsName: true },
  },
  {
    name: 'a Content-Length larger than what is sent, then the client stops sending',
    input: {
      socket: (url) => {
        const body = form(purposeField('batch'), fileField());
        return socketExchange(
          url,
          Buffer.concat([
            Buffer.from(
              httpHead('POST', '/v1/files', { 'Content-Type': MULTIPART, 'Content-Length': body.length + 1000 }),
            ),
            body,
          ]),
          { halfClose: true },
        );
      },
    },
    expected: { refusedOrClosed: true },
  },
  {
    name: 'a chunked upload with a malformed chunk',
    input: {
      socket: (url) =>
        socketExchange(
          url,
          httpHead('POST', '/v1/files', { 'Content-Type': MULTIPART, 'Transfer-Encoding': 'chunked' }) +
            `zz\r\n${form(purposeField('batch'), fileField()).toString()}\r\n0\r\n\r\n`,
        ),
    },
    expected: { refusedOrClosed: true },
  },
  {
    name: 'both Content-Length and Transfer-Encoding (request smuggling)',
    input: {
      socket: (url) => {
        const body = form(purposeField('batch'), fileField());
        return socketExchange(
          url,
          httpHead('POST', '/v1/files', {
            'Content-Type': MULTIPART,
            'Content-Length': body.length,
            'Transfer-Encoding': 'chunked',
          }) + `${body.length.toString(16)}\r\n${body.toString()}\r\n0\r\n\r\n`,
        );
      },
    },
    expected: { refusedOrClosed: true },
  },
];

// ---- ids

const UNKNOWN_FILE = `file-${'0'.repeat(24)}`;
const UNKNOWN_BATCH = `batch_${'0'.repeat(24)}`;
/** Ids filled in by the ids section's `before`: a real file, a real batch and its output file. */
const real = { file: '', batch: '', output: '' };

const BAD_IDS: Array<[name: string, id: () => string]> = [
  ['an encoded ../ traversal', () => '..%2F..%2F..%2Fetc%2Fpasswd'],
  ['a fully encoded ../ traversal', () => '%2e%2e%2f%2e%2e%2fdb.json'],
  ['an id of 8,000 characters', () => 'x'.repeat(8000)],
  ['a unicode id', () => encodeURIComponent('file-ü✓😀')],
  ['an encoded NUL', () => '%00'],
  ['an encoded CRLF with a header after it', () => 'file-%0d%0aX-Injected:%201'],
  ['a bad percent escape', () => '%zz'],
  ['an unknown id of the right form', () => UNKNOWN_FILE],
  ['an unknown batch id of the right form', () => UNKNOWN_BATCH],
  ['an id of the wrong kind', () => ''], // replaced per route: a batch id where a file id goes and the other way round
];

interface IdRoute {
  method: string;
  path: (id: string) => string;
  kind: 'file' | 'batch';
}
const ID_ROUTES: IdRoute[] = [
  { method: 'GET', path: (id) => `/v1/files/${id}`, kind: 'file' },
  { method: 'GET', path: (id) => `/v1/files/${id}/content`, kind: 'file' },
  { method: 'DELETE', path: (id) => `/v1/files/${id}`, kind: 'file' },
  { method: 'GET', path: (id) => `/v1/batches/${id}`, kind: 'batch' },
  { method: 'POST', path: (id) => `/v1/batches/${id}/cancel`, kind: 'batch' },
];

interface HttpCase {
  name: string;
  method: string;
  path: () => string;
  headers?: Record<string, string>;
  body?: () => string | Buffer;
  /** The status and OpenAI error code; a list of statuses where several are right, a code of null where the status is all that is checked. */
  expected: { status: number | number[]; code?: string | null };
}

const ID_CASES: HttpCase[] = [
  ...ID_ROUTES.flatMap((route) =>
    BAD_IDS.map(([name, id]): HttpCase => ({
      name: `${route.method} ${route.path('{id}')} with ${name}`,
      method: route.method,
      path: () =>
        route.path(name === 'an id of the wrong kind' ? (route.kind === 'file' ? real.batch : real.file) : id()),
      expected: { status: [400, 404] },
    })),
  ),
  {
    name: 'GET /v1/files/../../../etc/passwd (raw ../ in the path)',
    method: 'GET',
    path: () => '/v1/files/../../../etc/passwd',
    expected: { status: 404, code: 'not_found' },
  },
  {
    name: 'GET /v1/files/{id}/../../db.json',
    method: 'GET',
    path: () => `/v1/files/${real.file}/../../db.json`,
    expected: { status: 404, code: 'not_found' },
  },
  {
    name: 'GET /v1/files/ (an empty id)',
    method: 'GET',
    path: () => '/v1/files/',
    expected: { status: 404, code: 'not_found' },
  },
  {
    name: 'GET /v1/files//content (an empty id)',
    method: 'GET',
    path: () => '/v1/files//content',
    expected: { status: 404, code: 'not_found' },
  },
  {
    name: 'POST /v1/batches//cancel (an empty id)',
    method: 'POST',
    path: () => '/v1/batches//cancel',
    expected: { status: 404, code: 'not_found' },
  },
  // batches.create with a bad input_file_id
  ...(
    [
      ['no input_file_id', () => ({}), 400, 'missing_required_parameter'],
      ['a number as input_file_id', () => ({ input_file_id: 7 }), 400, 'missing_required_parameter'],
      ['null as input_file_id', () => ({ input_file_id: null }), 400, 'missing_required_parameter'],
      ['an array as input_file_id', () => ({ input_file_id: [real.file] }), 400, 'missing_required_parameter'],
      ['an unknown input_file_id', () => ({ input_file_id: UNKNOWN_FILE }), 404, 'not_found'],
      ['a batch id as input_file_id', () => ({ input_file_id: real.batch }), 404, 'not_found'],
      ['a path as input_file_id', () => ({ input_file_id: '../../etc/passwd' }), 404, 'not_found'],
      ['an input_file_id of 100,000 characters', () => ({ input_file_id: 'f'.repeat(100_000) }), 404, 'not_found'],
      ['an output file as input_file_id', () => ({ input_file_id: real.output }), 400, 'invalid_request'],
    ] as const
  ).map(([name, body, status, code]): HttpCase => ({
    name: `POST /v1/batches with ${name}`,
    method: 'POST',
    path: () => '/v1/batches',
    headers: { 'content-type': 'application/json' },
    body: () => JSON.stringify({ endpoint: ENDPOINT, completion_window: '24h', ...body() }),
    expected: { status, code },
  })),
  // batches.list with a bad limit or after
  ...(
    [
      ['limit=0', 400, 'invalid_request'],
      ['limit=101', 400, 'invalid_request'],
      ['limit=-1', 400, 'invalid_request'],
      ['limit=1.5', 400, 'invalid_request'],
      ['limit=abc', 400, 'invalid_request'],
      ['limit=', 400, 'invalid_request'],
      ['limit=1e309', 400, 'invalid_request'],
      ['after=batch_000000000000000000000000', 404, 'not_found'],
      ['after=', 404, 'not_found'],
      ['after=%00%ff', 404, 'not_found'],
    ] as const
  ).map(([query, status, code]): HttpCase => ({
    name: `GET /v1/batches?${query}`,
    method: 'GET',
    path: () => `/v1/batches?${query}`,
    expected: { status, code },
  })),
  {
    name: 'GET /v1/batches?after={a file id}',
    method: 'GET',
    path: () => `/v1/batches?after=${real.file}`,
    expected: { status: 404, code: 'not_found' },
  },
];

// ---- HTTP abuse

const jsonPost = (body: () => string | Buffer): Pick<HttpCase, 'method' | 'path' | 'headers' | 'body'> => ({
  method: 'POST',
  path: () => '/v1/batches',
  headers: { 'content-type': 'application/json' },
  body,
});
const withFile = (extra: Record<string, unknown>) => () =>
  JSON.stringify({ input_file_id: real.file, endpoint: ENDPOINT, completion_window: '24h', ...extra });

const HTTP_CASES: HttpCase[] = [
  { name: 'GET / (no such route)', method: 'GET', path: () => '/', expected: { status: 404, code: 'not_found' } },
  { name: 'GET /v1 (no such route)', method: 'GET', path: () => '/v1', expected: { status: 404, code: 'not_found' } },
  {
    name: 'POST /v1/chat/completions (not served)',
    method: 'POST',
    path: () => '/v1/chat/completions',
    headers: { 'content-type': 'application/json' },
    body: () => '{}',
    expected: { status: 404, code: 'not_found' },
  },
  {
    name: 'GET /v1/files/{id}/content/more',
    method: 'GET',
    path: () => `/v1/files/${UNKNOWN_FILE}/content/more`,
    expected: { status: 404, code: 'not_found' },
  },
  {
    name: 'PUT /v1/files',
    method: 'PUT',
    path: () => '/v1/files',
    expected: { status: 405, code: 'method_not_allowed' },
  },
  {
    name: 'PATCH /v1/batches',
    method: 'PATCH',
    path: () => '/v1/batches',
    expected: { status: 405, code: 'method_not_allowed' },
  },
  {
    name: 'DELETE /v1/batches',
    method: 'DELETE',
    path: () => '/v1/batches',
    expected: { status: 405, code: 'method_not_allowed' },
  },
  {
    name: 'POST /health',
    method: 'POST',
    path: () => '/health',
    expected: { status: 405, code: 'method_not_allowed' },
  },
  {
    name: 'GET /v1/batches/{id}/cancel',
    method: 'GET',
    path: () => `/v1/batches/${UNKNOWN_BATCH}/cancel`,
    expected: { status: 405, code: 'method_not_allowed' },
  },
  {
    name: 'DELETE /v1/batches/{id}',
    method: 'DELETE',
    path: () => `/v1/batches/${UNKNOWN_BATCH}`,
    expected: { status: 405, code: 'method_not_allowed' },
  },
  {
    name: 'TRACE /health',
    method: 'TRACE',
    path: () => '/health',
    expected: { status: 405, code: 'method_not_allowed' },
  },
  {
    name: 'OPTIONS /v1/batches without CORS configured',
    method: 'OPTIONS',
    path: () => '/v1/batches',
    expected: { status: 405, code: 'method_not_allowed' },
  },
  { name: 'HEAD /health', method: 'HEAD', path: () => '/health', expected: { status: [200, 405], code: null } },
  {
    name: 'a malformed JSON body',
    ...jsonPost(() => '{"input_file_id": '),
    expected: { status: 400, code: 'invalid_json' },
  },
  { name: 'an empty JSON body', ...jsonPost(() => ''), expected: { status: 400, code: 'invalid_json' } },
  {
    name: 'a JSON array body',
    ...jsonPost(() => '[{"input_file_id": "file-x"}]'),
    expected: { status: 400, code: 'invalid_json' },
  },
  { name: 'a JSON string body', ...jsonPost(() => '"file-x"'), expected: { status: 400, code: 'invalid_json' } },
  { name: 'a JSON null body', ...jsonPost(() => 'null'), expected: { status: 400, code: 'invalid_json' } },
  {
    name: 'a JSON body with a BOM and invalid UTF-8',
    ...jsonPost(() => Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0xff, 0xfe, 0x7d])),
    expected: { status: 400, code: 'invalid_json' },
  },
  {
    name: `a JSON body ${DEEP.toLocaleString('en')} arrays deep`,
    ...jsonPost(() => `{"x":${deepArrays}}`),
    expected: { status: 400, code: 'missing_required_parameter' },
  },
  {
    name: 'a __proto__ key carrying input_file_id',
    ...jsonPost(() => '{"__proto__": {"input_file_id": "file-x"}}'),
    expected: { status: 400, code: 'missing_required_parameter' },
  },
  {
    name: 'a 2 MiB JSON body',
    ...jsonPost(() => JSON.stringify({ input_file_id: 'x'.repeat(2 * MiB) })),
    expected: { status: 413, code: 'request_too_large' },
  },
  {
    name: 'a JSON body as text/plain',
    method: 'POST',
    path: () => '/v1/batches',
    headers: { 'content-type': 'text/plain' },
    body: withFile({}),
    expected: { status: 415, code: 'unsupported_media_type' },
  },
  {
    name: 'a JSON body without Content-Type',
    method: 'POST',
    path: () => '/v1/batches',
    body: withFile({}),
    expected: { status: 415, code: 'unsupported_media_type' },
  },
  {
    name: 'endpoint as a number',
    ...jsonPost(withFile({ endpoint: 7 })),
    expected: { status: 400, code: 'invalid_type' },
  },
  {
    name: 'an endpoint the daemon does not serve',
    ...jsonPost(withFile({ endpoint: '/v1/embeddings' })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'completion_window 0h',
    ...jsonPost(withFile({ completion_window: '0h' })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'completion_window 9999d',
    ...jsonPost(withFile({ completion_window: '9999d' })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'completion_window as an object',
    ...jsonPost(withFile({ completion_window: { hours: 24 } })),
    expected: { status: 400, code: 'invalid_type' },
  },
  {
    name: 'metadata as an array',
    ...jsonPost(withFile({ metadata: ['a'] })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'metadata as a string',
    ...jsonPost(withFile({ metadata: 'job' })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'metadata of 17 pairs',
    ...jsonPost(
      withFile({ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v'])) }),
    ),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'a metadata key of 65 characters',
    ...jsonPost(withFile({ metadata: { ['k'.repeat(65)]: 'v' } })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'a metadata value that is a number',
    ...jsonPost(withFile({ metadata: { job: 7 } })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'metadata num_ctx that is not a number',
    ...jsonPost(withFile({ metadata: { num_ctx: 'lots' } })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'metadata mode that does not exist',
    ...jsonPost(withFile({ metadata: { mode: 'chaos' } })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'metadata trim_strategy that does not exist',
    ...jsonPost(withFile({ metadata: { trim_strategy: 'shred' } })),
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'GET /v1/batches?limit=%zz (a bad escape)',
    method: 'GET',
    path: () => '/v1/batches?limit=%zz',
    expected: { status: 400, code: 'invalid_request' },
  },
  {
    name: 'GET /v1/files?purpose=%00%ff',
    method: 'GET',
    path: () => '/v1/files?purpose=%00%ff',
    expected: { status: 200 },
  },
  { name: 'GET /v1/batches?%%%&&&===', method: 'GET', path: () => '/v1/batches?%%%&&&===', expected: { status: 200 } },
  {
    name: 'GET /v1/batches?limit=1&limit=abc (a repeated parameter)',
    method: 'GET',
    path: () => '/v1/batches?limit=1&limit=abc',
    expected: { status: 200 },
  },
];

interface SocketCase {
  name: string;
  bytes: () => string;
  /** Right statuses (null: the connection closed without an answer); `code` where the answer must carry OpenAI's error code. */
  expected: { status: Array<number | null>; code?: string };
}

const SOCKET_CASES: SocketCase[] = [
  {
    name: 'a header of 20 KiB',
    bytes: () => httpHead('GET', '/v1/batches', { 'X-Big': 'h'.repeat(20 * 1024), Connection: 'close' }),
    expected: { status: [431] },
  },
  {
    name: '1,000 headers (20 KiB)',
    bytes: () =>
      httpHead('GET', '/v1/batches', {
        ...Object.fromEntries(Array.from({ length: 1000 }, (_, index) => [`X-Flood-${index}`, 'flood'])),
        Connection: 'close',
      }),
    expected: { status: [200, 431] },
  },
  {
    name: '10,000 headers (200 KiB)',
    bytes: () =>
      httpHead('GET', '/v1/batches', {
        ...Object.fromEntries(Array.from({ length: 10_000 }, (_, index) => [`X-Flood-${index}`, 'flood'])),
        Connection: 'close',
      }),
    expected: { status: [431] },
  },
  {
    name: 'a request line of 20 KiB',
    bytes: () => httpHead('GET', `/v1/batches/${'b'.repeat(20 * 1024)}`, { Connection: 'close' }),
    expected: { status: [414, 431] },
  },
  {
    name: 'the request target *',
    bytes: () => httpHead('OPTIONS', '*', { Connection: 'close' }),
    expected: { status: [400], code: 'invalid_request_target' },
  },
  {
    name: 'an absolute-form request target',
    bytes: () => httpHead('GET', 'http://evil.example/v1/batches', { Connection: 'close' }),
    expected: { status: [400], code: 'invalid_request_target' },
  },
  {
    name: 'a method HTTP does not know',
    bytes: () => httpHead('BREW', '/v1/batches', { Connection: 'close' }),
    expected: { status: [400, 405, null] },
  },
  {
    name: 'an HTTP/1.0 request without Host',
    bytes: () => 'GET /v1/batches HTTP/1.0\r\n\r\n',
    expected: { status: [400, 403] },
  },
  {
    name: 'an HTTP/1.1 request without Host',
    bytes: () => 'GET /v1/batches HTTP/1.1\r\nConnection: close\r\n\r\n',
    expected: { status: [400, 403] },
  },
  {
    name: 'a Content-Length that is not a number',
    bytes: () =>
      httpHead('POST', '/v1/batches', {
        'Content-Type': 'application/json',
        'Content-Length': 'abc',
        Connection: 'close',
      }) + '{}',
    expected: { status: [400] },
  },
  {
    name: 'two different Content-Lengths',
    bytes: () =>
      httpHead('POST', '/v1/batches', {
        'Content-Type': 'application/json',
        'Content-Length': '2',
        'content-length': '5',
        Connection: 'close',
      }) + '{}',
    expected: { status: [400] },
  },
  {
    name: 'not HTTP at all',
    bytes: () => '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u01fc\u0003\u0003 a TLS hello, say\r\n\r\n',
    expected: { status: [400, null] },
  },
  {
    name: 'a header with a NUL byte in its value',
    bytes: () => httpHead('GET', '/v1/batches', { 'X-Nul': 'a\u0000b', Connection: 'close' }),
    expected: { status: [400] },
  },
];

// ---- API key (a second daemon with one)

const API_KEY = 'bad-input-key';
const AUTH_CASES: Array<{ name: string; authorization?: string; path?: string; status: number }> = [
  { name: 'no Authorization header', status: 401 },
  {
    name: 'Basic credentials',
    authorization: `Basic ${Buffer.from(`user:${API_KEY}`).toString('base64')}`,
    status: 401,
  },
  { name: 'Bearer without a key', authorization: 'Bearer', status: 401 },
  { name: 'a wrong key', authorization: 'Bearer not-the-key', status: 401 },
  { name: 'the key with a suffix', authorization: `Bearer ${API_KEY}x`, status: 401 },
  { name: 'the key after two spaces', authorization: `Bearer  ${API_KEY}`, status: 401 },
  { name: 'a key of 10 KiB', authorization: `Bearer ${'k'.repeat(10 * 1024)}`, status: 401 },
  { name: 'the key as a query parameter instead', path: `/v1/batches?api_key=${API_KEY}`, status: 401 },
  { name: 'the right key (the control)', authorization: `Bearer ${API_KEY}`, status: 200 },
];

// ---- JSON-RPC over the socket

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;
const NOT_FOUND = protocol.RpcErrorCodes.notFound;

/** Ids and paths the RPC cases use, filled in by the RPC section's `before`. */
const rpcFixture = { file: '', directory: '' };

const RPC_PARAM_CASES: Array<{ method: string; params: () => unknown; code: number | number[]; why: string }> = [
  { method: 'batch/create', params: () => null, code: INVALID_PARAMS, why: 'null params' },
  { method: 'batch/create', params: () => [rpcFixture.file], code: INVALID_PARAMS, why: 'params by position' },
  {
    method: 'batch/create',
    params: () => ({ input_file_id: 7 }),
    code: INVALID_PARAMS,
    why: 'a number as input_file_id',
  },
  {
    method: 'batch/create',
    params: () => ({ input_file_id: UNKNOWN_FILE }),
    code: NOT_FOUND,
    why: 'an unknown input_file_id',
  },
  {
    method: 'batch/create',
    params: () => ({ input_file_id: rpcFixture.file, endpoint: 5 }),
    code: INVALID_PARAMS,
    why: 'a number as endpoint',
  },
  {
    method: 'batch/create',
    params: () => ({ input_file_id: rpcFixture.file, completion_window: 12 }),
    code: INVALID_PARAMS,
    why: 'a number as completion_window',
  },
  {
    method: 'batch/create',
    params: () => ({ input_file_id: rpcFixture.file, metadata: 'x' }),
    code: INVALID_PARAMS,
    why: 'a string as metadata',
  },
  {
    method: 'batch/create',
    params: () => ({ input_file_id: rpcFixture.file, options: 'fast' }),
    code: INVALID_PARAMS,
    why: 'a string as options',
  },
  {
    method: 'batch/create',
    params: () => ({ input_file_id: rpcFixture.file, options: { concurrency: -1 } }),
    code: INVALID_PARAMS,
    why: 'a negative concurrency',
  },
  {
    method: 'batch/create',
    params: () => ({ input_file_id: rpcFixture.file, options: { mode: 'chaos' } }),
    code: INVALID_PARAMS,
    why: 'an unknown mode',
  },
  { method: 'batch/list', params: () => ({ limit: 'x' }), code: INVALID_PARAMS, why: 'a string as limit' },
  { method: 'batch/list', params: () => ({ limit: 0 }), code: INVALID_PARAMS, why: 'limit 0' },
  { method: 'batch/list', params: () => ({ after: 5 }), code: INVALID_PARAMS, why: 'a number as after' },
  { method: 'batch/list', params: () => 'everything', code: INVALID_PARAMS, why: 'a string as params' },
  { method: 'batch/get', params: () => ({ id: 5 }), code: INVALID_PARAMS, why: 'a number as id' },
  { method: 'batch/get', params: () => ({}), code: INVALID_PARAMS, why: 'no id' },
  { method: 'batch/get', params: () => 'batch_x', code: INVALID_PARAMS, why: 'a string as params' },
  { method: 'batch/get', params: () => ({ id: '../../etc/passwd' }), code: NOT_FOUND, why: 'a path as id' },
  { method: 'batch/cancel', params: () => ({ id: null }), code: INVALID_PARAMS, why: 'null id' },
  { method: 'batch/cancel', params: () => ({ id: UNKNOWN_BATCH }), code: NOT_FOUND, why: 'an unknown id' },
  { method: 'batch/retry', params: () => ({ id: {} }), code: INVALID_PARAMS, why: 'an object as id' },
  { method: 'batch/retry', params: () => ({ id: UNKNOWN_BATCH }), code: NOT_FOUND, why: 'an unknown id' },
  { method: 'batch/metrics', params: () => ({ id: 7 }), code: INVALID_PARAMS, why: 'a number as id' },
  {
    method: 'batch/metrics',
    params: () => ({ id: UNKNOWN_BATCH, series: true }),
    code: NOT_FOUND,
    why: 'an unknown id',
  },
  {
    method: 'batch/metrics',
    params: () => ({ id: UNKNOWN_BATCH, series: 'yes' }),
    code: INVALID_PARAMS,
    why: 'a string as series',
  },
  { method: 'file/register', params: () => ({ path: 5 }), code: INVALID_PARAMS, why: 'a number as path' },
  { method: 'file/register', params: () => ({ path: '/no/such/file.jsonl' }), code: NOT_FOUND, why: 'a missing file' },
  { method: 'file/register', params: () => ({ path: rpcFixture.directory }), code: NOT_FOUND, why: 'a directory' },
  {
    method: 'file/register',
    params: () => ({ path: writeTempFile('ok.jsonl', jsonl(request('a'))), purpose: 'fine-tune' }),
    code: INVALID_PARAMS,
    why: 'purpose fine-tune',
  },
  {
    method: 'file/register',
    params: () => ({ path: `/tmp/${'p'.repeat(5000)}.jsonl` }),
    code: [NOT_FOUND, INVALID_PARAMS],
    why: 'a path of 5,000 characters',
  },
  { method: 'file/get', params: () => ({ id: [] }), code: INVALID_PARAMS, why: 'an array as id' },
  { method: 'file/get', params: () => ({ id: '../db.json' }), code: NOT_FOUND, why: 'a path as id' },
  { method: 'file/validate', params: () => ({ path: 5 }), code: INVALID_PARAMS, why: 'a number as path' },
  { method: 'file/validate', params: () => ({ path: '/no/such/file.jsonl' }), code: NOT_FOUND, why: 'a missing file' },
  {
    method: 'file/validate',
    params: () => ({ path: `/tmp/${'p'.repeat(5000)}.jsonl` }),
    code: [NOT_FOUND, INVALID_PARAMS],
    why: 'a path of 5,000 characters',
  },
  { method: 'csv/convert', params: () => null, code: INVALID_PARAMS, why: 'null params' },
  { method: 'csv/convert', params: () => ({}), code: INVALID_PARAMS, why: 'no fields' },
  {
    method: 'csv/convert',
    params: () => ({ input: 5, model: [] }),
    code: INVALID_PARAMS,
    why: 'fields of the wrong types',
  },
  { method: 'results/analyze', params: () => null, code: INVALID_PARAMS, why: 'null params' },
  { method: 'results/analyze', params: () => ({}), code: INVALID_PARAMS, why: 'no fields' },
  { method: 'results/analyze', params: () => ({ batch_id: 5 }), code: INVALID_PARAMS, why: 'a number as batch_id' },
];

type WireOutcome =
  /** An error answer with one of these codes, or the connection closed; then the daemon answers a new connection. */
  | { errorOrClosed: number[] }
  /** One of these error codes, with the connection still serving. */
  | { error: number | number[] }
  /** The connection still serves (what was sent needs no answer). */
  | { serves: true }
  /** A result, or an error with one of these codes; the connection still serves. */
  | { resultOrError: number[] }
  /** The connection is closed by the daemon. */
  | { closed: true };

interface WireCase {
  name: string;
  /** Sends the input; returns the id of a request whose answer is expected, if any. */
  send: (wire: WireClient) => Promise<number | string | void>;
  expected: WireOutcome;
}

const RPC_WIRE_CASES: WireCase[] = [
  {
    name: 'non-JSON with valid framing',
    send: (wire) => wire.write(frame('this is not JSON')),
    expected: { errorOrClosed: [PARSE_ERROR] },
  },
  {
    name: 'invalid UTF-8 in a frame',
    send: (wire) => wire.write(frame(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))),
    expected: { errorOrClosed: [PARSE_ERROR] },
  },
  {
    name: 'a frame without Content-Length',
    send: (wire) =>
      wire.write('Content-Type: application/vscode-jsonrpc\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"daemon/status"}'),
    expected: { errorOrClosed: [PARSE_ERROR, INVALID_REQUEST] },
  },
  {
    name: 'a Content-Length that is not a number',
    send: (wire) => wire.write('Content-Length: many\r\n\r\n{}'),
    expected: { errorOrClosed: [PARSE_ERROR, INVALID_REQUEST] },
  },
  {
    name: 'a negative Content-Length',
    send: (wire) => wire.write('Content-Length: -5\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"daemon/status"}'),
    expected: { errorOrClosed: [PARSE_ERROR, INVALID_REQUEST] },
  },
  {
    name: 'a header line without a colon',
    send: (wire) => wire.write('Garbage here\r\nContent-Length: 2\r\n\r\n{}'),
    expected: { errorOrClosed: [PARSE_ERROR, INVALID_REQUEST] },
  },
  {
    name: 'a Content-Length smaller than the body',
    send: (wire) => wire.write('Content-Length: 5\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"daemon/status"}'),
    expected: { errorOrClosed: [PARSE_ERROR, INVALID_REQUEST] },
  },
  {
    name: 'a JSON array as a message (a JSON-RPC batch)',
    send: (wire) => wire.write(frame('[{"jsonrpc":"2.0","id":1,"method":"daemon/status"}]')),
    expected: { errorOrClosed: [INVALID_REQUEST] },
  },
  {
    name: 'a JSON number as a message',
    send: (wire) => wire.write(frame('42')),
    expected: { errorOrClosed: [INVALID_REQUEST] },
  },
  {
    name: 'a request whose id is an object',
    send: (wire) => wire.write(frame('{"jsonrpc":"2.0","id":{"a":1},"method":"daemon/status"}')),
    expected: { errorOrClosed: [INVALID_REQUEST] },
  },
  {
    name: 'an unknown method',
    send: (wire) => wire.request('batch/explode', { id: 'x' }),
    expected: { error: METHOD_NOT_FOUND },
  },
  {
    name: 'a method name of 10,000 characters',
    send: (wire) => wire.request('m'.repeat(10_000), {}),
    expected: { error: METHOD_NOT_FOUND },
  },
  {
    name: 'an unknown notification',
    send: (wire) => wire.notify('batch/explode', { id: 'x' }),
    expected: { serves: true },
  },
  {
    name: 'a response the daemon never asked for',
    send: (wire) => wire.write(frame('{"jsonrpc":"2.0","id":987654,"result":{"ok":true}}')),
    expected: { serves: true },
  },
  {
    name: 'a $/cancelRequest for a request that does not exist',
    send: (wire) => wire.notify('$/cancelRequest', { id: 'nope' }),
    expected: { serves: true },
  },
  {
    name: 'didOpen with garbage params',
    send: (wire) => wire.notify('textDocument/didOpen', { textDocument: 5 }),
    expected: { serves: true },
  },
  {
    name: 'didChange of a document never opened',
    send: (wire) =>
      wire.notify('textDocument/didChange', {
        textDocument: { uri: 'file:///never.jsonl', version: 2 },
        contentChanges: [{ text: '{' }],
      }),
    expected: { serves: true },
  },
  {
    name: 'initialize with params of the wrong types',
    send: (wire) => wire.request('initialize', { processId: 'me', capabilities: 5, initializationOptions: [] }),
    expected: { resultOrError: [INVALID_PARAMS] },
  },
  {
    name: 'a request with 16 MiB of params',
    send: (wire) => wire.request('daemon/status', { padding: 'p'.repeat(16 * MiB) }),
    expected: { serves: true },
  },
  {
    name: 'a 16 MiB path to validate',
    send: (wire) => wire.request('file/validate', { path: `/tmp/${'v'.repeat(16 * MiB)}` }),
    expected: { error: [NOT_FOUND, INVALID_PARAMS] },
  },
  { name: 'exit: closes this connection only', send: (wire) => wire.notify('exit'), expected: { closed: true } },
  {
    name: 'shutdown, then exit: closes this connection only',
    send: async (wire) => {
      const id = await wire.request('shutdown');
      assert.notEqual(await wire.answer(id), 'closed');
      await wire.notify('exit');
    },
    expected: { closed: true },
  },
];

/** Clients that leave mid-message: the daemon must go on serving the others. */
const RPC_HANGUP_CASES: Array<{ name: string; bytes: () => Buffer | string }> = [
  { name: 'a client that leaves mid-header', bytes: () => 'Content-Len' },
  {
    name: 'a client that leaves mid-body',
    bytes: () => 'Content-Length: 1000\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"batch/get","params":{"id":"',
  },
  {
    name: 'a client that leaves after a Content-Length larger than its body',
    bytes: () => `Content-Length: ${16 * MiB}\r\n\r\n${'{"jsonrpc":"2.0"'.padEnd(1000, ' ')}`,
  },
  {
    name: 'a client that leaves with a request in flight',
    bytes: () =>
      frame(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'file/validate',
          params: {
            path: writeTempFile(
              'inflight.jsonl',
              jsonl(...Array.from({ length: 2000 }, (_, index) => request(`r${index}`))),
            ),
          },
        }),
      ),
  },
];

// ---- races

/** The races are written out below, one `it` each (too different for one table). */
const RACE_COUNT = 7;

// ---- helpers

const CASE_COUNT = {
  jsonl: JSONL_CASES.length,
  uploads: UPLOAD_CASES.length + 2, // + the two cut-off upload cases written out below
  ids: ID_CASES.length,
  http: HTTP_CASES.length + SOCKET_CASES.length + AUTH_CASES.length,
  rpc: RPC_PARAM_CASES.length + RPC_WIRE_CASES.length + RPC_HANGUP_CASES.length,
  races: RACE_COUNT,
};
const TOTAL = Object.values(CASE_COUNT).reduce((sum, count) => sum + count, 0);

function assertErrorShape(response: RawResponse, status: number | readonly number[], code?: string | null): void {
  const statuses = typeof status === 'number' ? [status] : status;
  const text = response.body.toString('utf8').slice(0, 300);
  assert.ok(
    statuses.includes(response.status),
    `status ${response.status}, expected ${statuses.join(' or ')}: ${text}`,
  );
  if (response.status < 400 || code === null) return;
  assert.ok(response.json?.error, `an OpenAI error object: ${text}`);
  assert.deepEqual(Object.keys(response.json.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof response.json.error.message, 'string');
  if (code) assert.equal(response.json.error.code, code, text);
}

async function listedFileIds(): Promise<string[]> {
  const response = await raw(`${base}/v1/files`, {});
  assert.equal(response.status, 200);
  return (response.json.data as Array<{ id: string }>).map((file) => file.id);
}

/**
 * Resolves once `files/` holds nothing that GET /v1/files does not list: at once after an
 * answered request; after a connection the client broke, once the daemon has cleaned up (watched
 * through fs.watch, with a deadline).
 */
async function noStrayFiles(ms = 5000): Promise<void> {
  const dir = join(dataDir, 'files');
  const stray = async (): Promise<string[]> => strayFiles(dataDir, await listedFileIds());
  if ((await stray()).length === 0) return;
  const watcher = watch(dir);
  try {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const left = await stray();
      if (left.length === 0) return;
      await Promise.race([
        new Promise((resolve) => watcher.once('change', resolve)),
        new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()))),
      ]);
    }
    assert.deepEqual(await stray(), [], 'files/ holds only what GET /v1/files lists');
  } finally {
    watcher.close();
  }
}

async function assertAlive(target: DaemonProcess, url: string): Promise<void> {
  assert.equal(
    target.child.exitCode,
    null,
    `the daemon exited with ${target.child.exitCode}:\n${target.log().slice(-2000)}`,
  );
  assert.equal(target.child.signalCode, null, `the daemon was killed by ${target.child.signalCode}`);
  const health = await raw(`${url}/health`, {});
  assert.equal(health.status, 200);
  assert.deepEqual(health.json, { status: 'ok' });
}

async function uploadJsonl(name: string, content: Buffer | string): Promise<OpenAI.FileObject> {
  return client.files.create({
    file: await toFile(Buffer.isBuffer(content) ? content : Buffer.from(content), name),
    purpose: 'batch',
  });
}

async function ended(id: string): Promise<Batch> {
  return waitForBatch(daemon.connection, id, isFinished);
}

async function accountedFor(batch: Batch, ids: string[]): Promise<void> {
  if (!batch.output_file_id) return; // ended before it was queued: no line ran
  assertExactlyOnce(
    ids,
    await filePath(daemon.connection, batch.output_file_id),
    await filePath(daemon.connection, batch.error_file_id),
    batch,
  );
}

/** An OpenAI client's promise as its status: 200 or the APIError's status (never a connection error). */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof OpenAI.APIError && typeof error.status === 'number') return error.status;
    throw error;
  }
}

const idsOf = (count: number, prefix: string): string[] =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
const linesOf = (ids: string[]): Buffer => jsonl(...ids.map((id) => request(id)));

// ---- the suite

describe(`the daemon under bad input (${TOTAL} cases: ${Object.entries(CASE_COUNT)
  .map(([name, count]) => `${name} ${count}`)
  .join(', ')})`, function () {
  this.timeout(60_000);

  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 4 });
    dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, [
      '--engine',
      'ollama',
      '--ollama-url',
      emulator.url,
      '--concurrency',
      '4',
      '--max-upload-mb',
      String(MAX_UPLOAD_MB),
    ]);
    ({ base, client } = await openaiClient(daemon.connection));
  });
  let stopping = false;
  afterEach(async () => {
    if (!stopping) await assertAlive(daemon, base);
  });
  after(async () => {
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) await daemon.kill9();
    await emulator?.close();
  });

  describe(`JSONL contents through the openai client (${CASE_COUNT.jsonl})`, () => {
    JSONL_CASES.forEach(({ name, input, expected }, index) => {
      it(name, async () => {
        const file = await uploadJsonl(`case-${index + 1}.jsonl`, input);
        assert.equal(file.bytes, Buffer.byteLength(input));
        const created = await client.batches.create({
          input_file_id: file.id,
          endpoint: ENDPOINT,
          completion_window: '24h',
        });
        const batch = await ended(created.id);
        assert.equal((await client.batches.retrieve(created.id)).status, batch.status, 'HTTP and RPC agree');
        if ('failed' in expected) {
          assert.equal(
            batch.status,
            'failed',
            `the batch is ${batch.status} (${JSON.stringify(batch.request_counts)}), not failed at validation`,
          );
          const errors = batch.errors!.data;
          assert.deepEqual(
            errors.map(({ code, line, param }) => [code, line, param]),
            expected.failed.map(([code, line, param = null]) => [code, line, param]),
            JSON.stringify(errors).slice(0, 1000),
          );
          for (const error of errors) {
            assert.ok(error.message.length < 2000, 'a message of reasonable length');
            if (error.line !== null) assert.ok(error.message.includes(`line ${error.line}`), error.message);
          }
          assert.equal(batch.output_file_id, null, 'nothing ran');
        } else if ('completed' in expected) {
          assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
          const { errors } = assertExactlyOnce(
            expected.completed,
            await filePath(daemon.connection, batch.output_file_id),
            await filePath(daemon.connection, batch.error_file_id),
            batch,
          );
          assert.deepEqual(errors, [], 'every line answered');
        } else {
          await expected.check(batch);
        }
      });
    });
  });

  describe(`uploads over raw HTTP (${CASE_COUNT.uploads})`, () => {
    afterEach(() => noStrayFiles());

    UPLOAD_CASES.forEach(({ name, input, expected }) => {
      it(name, async () => {
        const before = new Set(await listedFileIds());
        if ('socket' in input) {
          const answer = await input.socket(base);
          assert.ok(
            answer.status === null || (answer.status >= 400 && answer.status < 500),
            `status ${answer.status}: ${answer.text.slice(0, 300)}`,
          );
          assert.ok('refusedOrClosed' in expected);
        } else {
          const response = await raw(`${base}/v1/files`, { method: 'POST', headers: input.headers }, input.body);
          if ('status' in expected) {
            assertErrorShape(response, expected.status, expected.code);
          } else if (response.status === 200) {
            // The name is a label: it never becomes a path.
            const file = response.json as OpenAI.FileObject;
            assert.doesNotMatch(
              file.filename,
              // eslint-disable-next-line no-control-regex -- a NUL in an id is one of the bad inputs
              /[/\\\u0000]/,
              `the stored filename ${JSON.stringify(file.filename.slice(0, 100))} is a name, not a path`,
            );
            assert.ok(existsSync(join(dataDir, 'files', `${file.id}.jsonl`)), 'the bytes are in files/ under the id');
            assert.ok(!existsSync('/tmp/escaped.jsonl'));
            return;
          } else {
            assertErrorShape(response, [400, 413, 415]);
          }
        }
        assert.deepEqual(
          (await listedFileIds()).filter((id) => !before.has(id)),
          [],
          'nothing was stored',
        );
      });
    });

    it('an upload whose client disconnects mid-file', async () => {
      const socket = await openSocket(base);
      const body = form(purposeField('batch'), fileField('cut.jsonl', Buffer.alloc(4 * MiB, 0x20)));
      const partSeen = new Promise<void>((resolve) => {
        const watcher = watch(join(dataDir, 'files'), (_event, name) => {
          if (name?.endsWith('.part')) {
            watcher.close();
            resolve();
          }
        });
      });
      socket.write(httpHead('POST', '/v1/files', { 'Content-Type': MULTIPART, 'Content-Length': body.length }));
      socket.write(body.subarray(0, 2 * MiB));
      await partSeen; // the daemon is writing the upload
      socket.destroy();
      await noStrayFiles();
    });

    it('ten uploads at once, half of them cut off', async () => {
      const before = new Set(await listedFileIds());
      const good = Array.from({ length: 5 }, (_, index) =>
        raw(
          `${base}/v1/files`,
          { method: 'POST', headers: { 'content-type': MULTIPART } },
          form(purposeField('batch'), fileField(`good-${index}.jsonl`, jsonl(request(`g${index}`)))),
        ),
      );
      const cut = Array.from({ length: 5 }, async () => {
        const socket = await openSocket(base);
        const body = form(purposeField('batch'), fileField('cut.jsonl', Buffer.alloc(MiB, 0x20)));
        socket.write(httpHead('POST', '/v1/files', { 'Content-Type': MULTIPART, 'Content-Length': body.length }));
        await new Promise<void>((resolve) => socket.write(body.subarray(0, body.length / 2), () => resolve()));
        socket.destroy();
      });
      const answers = await Promise.all(good);
      await Promise.all(cut);
      assert.deepEqual(
        answers.map((answer) => answer.status),
        [200, 200, 200, 200, 200],
      );
      const added = (await listedFileIds()).filter((id) => !before.has(id)).sort();
      assert.deepEqual(
        added,
        answers.map((answer) => answer.json.id as string).sort(),
        'the five whole uploads, and only they, are stored',
      );
      await noStrayFiles();
    });
  });

  describe(`ids on every route (${CASE_COUNT.ids})`, () => {
    before(async () => {
      const file = await uploadJsonl('ids.jsonl', linesOf(idsOf(3, 'id')));
      const created = await client.batches.create({
        input_file_id: file.id,
        endpoint: ENDPOINT,
        completion_window: '24h',
      });
      const batch = await ended(created.id);
      assert.equal(batch.status, 'completed');
      Object.assign(real, { file: file.id, batch: batch.id, output: batch.output_file_id! });
    });
    afterEach(async () => {
      // A refused DELETE deleted nothing.
      assert.equal((await raw(`${base}/v1/files/${real.file}`, {})).status, 200);
      assert.equal((await raw(`${base}/v1/batches/${real.batch}`, {})).status, 200);
    });

    ID_CASES.forEach(({ name, method, path, headers, body, expected }) => {
      it(name, async () => {
        const response = await raw(base, { method, path: path(), ...(headers && { headers }) }, body?.());
        assertErrorShape(response, expected.status, expected.code);
      });
    });
  });

  describe(`HTTP abuse (${CASE_COUNT.http})`, () => {
    HTTP_CASES.forEach(({ name, method, path, headers, body, expected }) => {
      it(name, async () => {
        const before = (await raw(`${base}/v1/batches?limit=100`, {})).json.data.length as number;
        const response = await raw(base, { method, path: path(), ...(headers && { headers }) }, body?.());
        assertErrorShape(response, expected.status, expected.code);
        if (method === 'POST')
          assert.equal(
            (await raw(`${base}/v1/batches?limit=100`, {})).json.data.length,
            before,
            'no batch was created',
          );
      });
    });

    SOCKET_CASES.forEach(({ name, bytes, expected }) => {
      it(name, async () => {
        const answer = await socketExchange(base, bytes());
        assert.ok(
          expected.status.includes(answer.status),
          `status ${answer.status}, expected ${expected.status.join(' or ')}: ${answer.text.slice(0, 300)}`,
        );
        if (expected.code) {
          const json = bodyJson(answer);
          assert.equal(json?.error?.code, expected.code, answer.text.slice(0, 300));
        }
      });
    });

    describe(`with an API key (${AUTH_CASES.length})`, () => {
      let keyed: DaemonProcess;
      let keyedBase: string;
      before(async () => {
        keyed = await startDaemonProcess(tempDir(), ['--engine', 'ollama', '--ollama-url', emulator.url], {
          OLLAMA_BATCH_API_KEY: API_KEY,
        });
        keyedBase = (await keyed.connection.sendRequest(protocol.DaemonStatusRequest.type)).http;
      });
      afterEach(() => assertAlive(keyed, keyedBase));
      after(async () => {
        assert.doesNotMatch(keyed.log(), /unhandled|uncaught/i);
        await keyed.stop();
      });

      AUTH_CASES.forEach(({ name, authorization, path = '/v1/batches', status }) => {
        it(name, async () => {
          const response = await raw(`${keyedBase}${path}`, {
            headers: authorization === undefined ? {} : { authorization },
          });
          if (status === 200) assert.equal(response.status, 200);
          else assertErrorShape(response, status, 'invalid_api_key');
        });
      });
    });
  });

  describe(`JSON-RPC garbage over the socket (${CASE_COUNT.rpc})`, () => {
    let wire: WireClient | undefined;
    before(async () => {
      const registered = await daemon.connection.sendRequest(protocol.FileRegisterRequest.type, {
        path: writeTempFile('rpc.jsonl', linesOf(idsOf(2, 'rpc'))),
      });
      rpcFixture.file = registered.id;
      rpcFixture.directory = tempDir();
    });
    afterEach(async () => {
      wire?.close();
      wire = undefined;
      // A new client is served, and so is the long-lived one.
      const fresh = await WireClient.connect(dataDir);
      try {
        const answer = await fresh.answer(await fresh.request('daemon/status'));
        assert.notEqual(answer, 'closed');
        assert.equal(((answer as RpcMessage).result as protocol.DaemonInfo).pid, daemon.child.pid);
      } finally {
        fresh.close();
      }
      assert.equal((await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type)).pid, daemon.child.pid);
    });

    RPC_PARAM_CASES.forEach(({ method, params, code, why }) => {
      it(`${method} with ${why}`, async () => {
        wire = await WireClient.connect(dataDir);
        const answer = await wire.answer(await wire.request(method, params()));
        assert.notEqual(answer, 'closed', 'an answer, not a closed connection');
        const { error, result } = answer as RpcMessage;
        assert.ok(error, `an error, not the result ${JSON.stringify(result)?.slice(0, 200)}`);
        assert.ok(
          (typeof code === 'number' ? [code] : code).includes(error.code),
          `code ${JSON.stringify(error.code)}, expected ${JSON.stringify(code)}: ${error.message.slice(0, 300)}`,
        );
        assert.ok(error.message.length > 0, 'a message');
        assert.doesNotMatch(
          error.message,
          /TypeError|Cannot read propert|is not a function|ENAMETOOLONG|EINVAL/,
          'says what was wrong, not what broke',
        );
      });
    });

    RPC_WIRE_CASES.forEach(({ name, send, expected }) => {
      it(name, async () => {
        wire = await WireClient.connect(dataDir);
        const id = await send(wire);
        if ('error' in expected) {
          const answer = await wire.answer(id!);
          assert.notEqual(answer, 'closed');
          const codes = typeof expected.error === 'number' ? [expected.error] : expected.error;
          assert.ok(codes.includes((answer as RpcMessage).error?.code ?? 0), JSON.stringify(answer).slice(0, 300));
        } else if ('errorOrClosed' in expected) {
          const codes = expected.errorOrClosed;
          const outcome = await wire
            .until(
              (messages) =>
                messages.find(
                  (message) => message.error && (id === undefined || message.id === id || message.id === null),
                ),
              1000,
            )
            .catch(() => 'silent' as const);
          if (outcome === 'silent') {
            const probe = await wire.answer(await wire.request('daemon/status'), 1000).then(
              () => 'still answers requests',
              () => 'answers nothing more',
            );
            assert.fail(
              `neither an error answer (${codes.join(' or ')}) nor a closed connection within 1 s; the connection ${probe}`,
            );
          }
          if (outcome !== 'closed')
            assert.ok(codes.includes(outcome.error!.code), JSON.stringify(outcome).slice(0, 300));
        } else if ('resultOrError' in expected) {
          const answer = await wire.answer(id!);
          assert.notEqual(answer, 'closed');
          const { error } = answer as RpcMessage;
          if (error) assert.ok(expected.resultOrError.includes(error.code), JSON.stringify(error).slice(0, 300));
          assert.notEqual(
            await wire.answer(await wire.request('daemon/status')),
            'closed',
            'the connection still serves',
          );
        } else if ('serves' in expected) {
          if (id !== undefined) {
            const answer = await wire.answer(id);
            assert.notEqual(answer, 'closed');
            assert.ok(!(answer as RpcMessage).error, JSON.stringify(answer).slice(0, 300));
          }
          const status = await wire.answer(await wire.request('daemon/status'));
          assert.notEqual(status, 'closed', 'the connection still serves');
          assert.equal(((status as RpcMessage).result as protocol.DaemonInfo).pid, daemon.child.pid);
        } else {
          assert.equal(await wire.until(() => undefined), 'closed');
        }
      });
    });

    RPC_HANGUP_CASES.forEach(({ name, bytes }) => {
      it(name, async () => {
        wire = await WireClient.connect(dataDir);
        await wire.write(bytes());
        wire.close();
      });
    });
  });

  describe(`races (${CASE_COUNT.races})`, () => {
    it('cancels the same batch from 10 clients at once', async () => {
      const ids = idsOf(400, 'cancel');
      const file = await uploadJsonl('cancel.jsonl', linesOf(ids));
      const created = await client.batches.create({
        input_file_id: file.id,
        endpoint: ENDPOINT,
        completion_window: '24h',
      });
      await waitForBatch(daemon.connection, created.id, (batch) => batch.status === 'in_progress' || isFinished(batch));
      const clients = Array.from(
        { length: 10 },
        () => new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 }),
      );
      const statuses = await Promise.all(clients.map((each) => statusOf(each.batches.cancel(created.id))));
      assert.ok(
        statuses.every((status) => status === 200 || status === 409),
        statuses.join(' '),
      );
      const batch = await ended(created.id);
      assert.ok(['cancelled', 'completed'].includes(batch.status), batch.status);
      if (batch.status === 'cancelled') assert.ok(statuses.includes(200));
      await accountedFor(batch, ids);
    });

    it('creates 20 batches from one file at once', async () => {
      const ids = idsOf(20, 'many');
      const file = await uploadJsonl('many.jsonl', linesOf(ids));
      const created = await Promise.all(
        Array.from({ length: 20 }, () =>
          client.batches.create({ input_file_id: file.id, endpoint: ENDPOINT, completion_window: '24h' }),
        ),
      );
      assert.equal(new Set(created.map((batch) => batch.id)).size, 20, 'twenty distinct batches');
      for (const { id } of created) {
        const batch = await ended(id);
        assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
        await accountedFor(batch, ids);
      }
    });

    it('deletes a file while a batch is created from it, ten times', async () => {
      const ids = idsOf(5, 'del');
      for (let round = 0; round < 10; round++) {
        const file = await uploadJsonl(`delete-${round}.jsonl`, linesOf(ids));
        const creating = client.batches.create({
          input_file_id: file.id,
          endpoint: ENDPOINT,
          completion_window: '24h',
        });
        const deleting = client.files.delete(file.id);
        const [create, remove] = await Promise.allSettled([creating, deleting]);
        const createStatus =
          create.status === 'fulfilled' ? 200 : (create.reason as InstanceType<typeof OpenAI.APIError>).status;
        const deleteStatus =
          remove.status === 'fulfilled' ? 200 : (remove.reason as InstanceType<typeof OpenAI.APIError>).status;
        // Either the batch holds the file (the delete is refused) or the file went first (the batch is refused).
        assert.ok(
          (createStatus === 200 && deleteStatus === 409) || (createStatus === 404 && deleteStatus === 200),
          `create ${createStatus}, delete ${deleteStatus}`,
        );
        if (create.status === 'fulfilled') {
          const batch = await ended(create.value.id);
          assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
          await accountedFor(batch, ids);
        }
      }
    });

    it('cancels a batch that is validating', async () => {
      const ids = idsOf(20_000, 'validating');
      const file = await uploadJsonl('validating.jsonl', linesOf(ids));
      const created = await client.batches.create({
        input_file_id: file.id,
        endpoint: ENDPOINT,
        completion_window: '24h',
      });
      assert.equal(created.status, 'validating');
      const cancelled = await client.batches.cancel(created.id);
      assert.ok(['cancelling', 'cancelled'].includes(cancelled.status), cancelled.status);
      const batch = await ended(created.id);
      assert.equal(batch.status, 'cancelled');
      assert.equal(batch.request_counts.completed, 0);
      await accountedFor(batch, ids);
    });

    it('takes two uploads with the same filename at once, keeping both', async () => {
      const contents = [linesOf(idsOf(3, 'twin-a')), linesOf(idsOf(4, 'twin-b'))];
      const files = await Promise.all(contents.map((content) => uploadJsonl('same-name.jsonl', content)));
      assert.notEqual(files[0]!.id, files[1]!.id);
      for (const [index, file] of files.entries()) {
        assert.equal(file.filename, 'same-name.jsonl');
        assert.ok(
          Buffer.from(await (await client.files.content(file.id)).arrayBuffer()).equals(contents[index]!),
          'each keeps its own bytes',
        );
      }
    });

    it('refuses to delete the files of a running batch, each asked twice at once', async () => {
      const ids = idsOf(2000, 'held');
      const file = await uploadJsonl('held.jsonl', linesOf(ids));
      const created = await client.batches.create({
        input_file_id: file.id,
        endpoint: ENDPOINT,
        completion_window: '24h',
      });
      const running = await waitForBatch(
        daemon.connection,
        created.id,
        (batch) => batch.status === 'in_progress' || isFinished(batch),
      );
      assert.equal(running.status, 'in_progress');
      const targets = [file.id, running.output_file_id!, running.error_file_id!];
      const statuses = await Promise.all(
        targets.flatMap((id) => [statusOf(client.files.delete(id)), statusOf(client.files.delete(id))]),
      );
      assert.deepEqual(statuses, [409, 409, 409, 409, 409, 409]);
      const batch = await ended(created.id);
      assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
      await accountedFor(batch, ids);
    });

    it('cancels over HTTP and over JSON-RPC at once while clients poll', async () => {
      const ids = idsOf(400, 'mixed');
      const file = await uploadJsonl('mixed.jsonl', linesOf(ids));
      const created = await client.batches.create({
        input_file_id: file.id,
        endpoint: ENDPOINT,
        completion_window: '24h',
      });
      const rpcCancel = daemon.connection.sendRequest(protocol.BatchCancelRequest.type, { id: created.id }).then(
        () => 200,
        (error: { code: number }) => error.code,
      );
      const httpCancel = statusOf(client.batches.cancel(created.id));
      const polls = Array.from({ length: 10 }, () => statusOf(client.batches.retrieve(created.id)));
      const lists = Array.from({ length: 5 }, () => statusOf(client.batches.list({ limit: 100 })));
      const [rpcStatus, httpStatus, ...reads] = await Promise.all([rpcCancel, httpCancel, ...polls, ...lists]);
      assert.ok([200, protocol.RpcErrorCodes.conflict].includes(rpcStatus), String(rpcStatus));
      assert.ok([200, 409].includes(httpStatus), String(httpStatus));
      assert.ok(
        reads.every((status) => status === 200),
        reads.join(' '),
      );
      const batch = await ended(created.id);
      assert.equal(batch.status, 'cancelled');
      await accountedFor(batch, ids);
    });
  });

  describe('at the end', () => {
    it('has ended every batch', async () => {
      const batches: Batch[] = [];
      let after: string | undefined;
      for (;;) {
        const page = (await raw(`${base}/v1/batches?limit=100${after ? `&after=${after}` : ''}`, {})).json;
        batches.push(...(page.data as Batch[]));
        if (!page.has_more) break;
        after = page.last_id;
      }
      for (const batch of batches) if (!isFinished(batch)) await ended(batch.id);
    });

    it('logged no unhandled rejection or uncaught exception', () => {
      const lines = daemon
        .log()
        .split('\n')
        .filter((line) => /unhandled|uncaught/i.test(line));
      assert.deepEqual(lines, []);
    });

    it('keeps nothing in files/ that GET /v1/files does not list', async () => {
      assert.deepEqual(strayFiles(dataDir, await listedFileIds()), []);
    });

    it('stops on SIGTERM within 5 s', async () => {
      stopping = true;
      const exited = once(daemon.child, 'exit');
      daemon.connection.dispose();
      daemon.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'still running'>(
        (resolve) => (timer = setTimeout(() => resolve('still running'), 5000)),
      );
      const outcome = await Promise.race([exited.then(([code]) => code as number | null), late]);
      clearTimeout(timer);
      assert.equal(
        outcome,
        0,
        `the daemon, asked to stop, is ${outcome === 'still running' ? 'still running 5 s later' : `gone with code ${outcome}`}; its log ends:\n${daemon.log().slice(-500)}`,
      );
    });
  });
});

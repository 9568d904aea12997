// The OpenAI-compatible HTTP API driven by the official `openai` client: what any program using
// OpenAI's Batch API does, with only the base URL changed.
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import OpenAI, { toFile } from 'openai';
import * as protocol from '../../server/protocol/methods.js';
import { batchLines, requestLine, tempDir, writeTempFile } from '../support/batch-files.js';
import { openaiClient, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertBatchShape, assertExactlyOnce, assertSuccessLine, readJsonl } from '../support/shapes.js';
import { raw } from './raw-http.js';

const ids = (count: number, prefix = 'req'): string[] =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index + 1}`);

async function waitUntil(
  client: OpenAI,
  id: string,
  done: (batch: OpenAI.Batches.Batch) => boolean,
): Promise<OpenAI.Batches.Batch> {
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (done(batch)) return batch;
    await new Promise((resolve) => setTimeout(resolve, 50)); // polling is what an HTTP client does
  }
}
const ended = (batch: OpenAI.Batches.Batch): boolean =>
  ['completed', 'failed', 'cancelled', 'expired'].includes(batch.status);

describe('the HTTP API with the official openai client', function () {
  this.timeout(180_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess;
  let dataDir: string;
  let base: string;
  let client: OpenAI;

  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 2, latencyMs: 5 });
    dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, [
      '--ollama-url',
      emulator.url,
      '--concurrency',
      '2',
      '--max-upload-mb',
      '300',
    ]);
    ({ base, client } = await openaiClient(daemon.connection));
  });
  after(async () => {
    await daemon.stop();
    await emulator.close();
  });

  it('uploads, runs to completed, and serves the output and error files, field for field', async () => {
    const path = writeTempFile('input.jsonl', batchLines(60, { model: 'tiny' }));
    const file = await client.files.create({ file: createReadStream(path), purpose: 'batch' });
    assert.deepEqual(Object.keys(file).sort(), [
      'bytes',
      'created_at',
      'expires_at',
      'filename',
      'id',
      'object',
      'purpose',
    ]);
    assert.equal(file.expires_at, null, 'kept until deleted');
    assert.equal(file.object, 'file');
    assert.equal(file.bytes, readFileSync(path).length);
    assert.equal(file.filename, 'input.jsonl');
    assert.equal((await client.files.retrieve(file.id)).id, file.id);
    assert.equal(await (await client.files.content(file.id)).text(), readFileSync(path, 'utf8'));

    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { job: 'test' },
    });
    assertBatchShape(created as any);
    assert.deepEqual(created.metadata, { job: 'test' });
    const batch = await waitUntil(client, created.id, ended);
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.request_counts, { total: 60, completed: 60, failed: 0 });
    assert.equal(batch.error_file_id, null, 'no error file when no line failed, as OpenAI');
    const output = await (await client.files.content(batch.output_file_id!)).text();
    const outputPath = writeTempFile('output.jsonl', output);
    assertExactlyOnce(ids(60), outputPath, null, batch as any).output.forEach(assertSuccessLine);
    const outputFile = await client.files.retrieve(batch.output_file_id!);
    assert.equal(outputFile.purpose, 'batch_output');
    assert.equal(outputFile.bytes, Buffer.byteLength(output));

    // The socket sees what HTTP made.
    const overSocket = await daemon.connection.sendRequest(protocol.BatchGetRequest.type, { id: batch.id });
    assert.equal(overSocket.status, 'completed');
  });

  it('cancels mid-run and keeps the partial output', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(batchLines(400, { model: 'tiny' })), 'big.jsonl'),
      purpose: 'batch',
    });
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    await waitUntil(client, created.id, (batch) => batch.request_counts!.completed >= 20);
    const cancelling = await client.batches.cancel(created.id);
    assert.ok(['cancelling', 'cancelled'].includes(cancelling.status));
    const batch = await waitUntil(client, created.id, ended);
    assert.equal(batch.status, 'cancelled');
    const output = (await (await client.files.content(batch.output_file_id!)).text()).split('\n').filter(Boolean);
    assert.ok(output.length >= 20 && output.length < 400);
  });

  it('pages through more batches than one page, with the SDK cursor', async () => {
    const socketFile = await daemon.connection.sendRequest(protocol.FileRegisterRequest.type, {
      path: writeTempFile('s.jsonl', batchLines(2, { model: 'tiny' })),
    });
    const fromSocket = await daemon.connection.sendRequest(protocol.BatchCreateRequest.type, {
      input_file_id: socketFile.id,
    });
    const first = await client.batches.list({ limit: 2 });
    assert.equal(first.data.length, 2);
    assert.equal(first.data[0]!.id, fromSocket.id, 'a batch made over the socket shows up over HTTP, newest first');
    assert.equal(first.has_more, true);
    const all: string[] = [];
    for await (const batch of client.batches.list({ limit: 2 })) all.push(batch.id);
    assert.equal(all.length, 3);
    assert.equal(new Set(all).size, 3);
    // Ended here, so that its end (an empty error file dropped) does not change the file list the next test pages.
    await waitUntil(client, fromSocket.id, ended);
  });

  it('pages through the files with the SDK cursor: every file once, newest first or oldest first', async () => {
    for (let index = 0; index < 3; index++)
      await client.files.create({
        file: await toFile(Buffer.from(batchLines(1, { model: 'tiny' })), 'p.jsonl'),
        purpose: 'batch',
      });
    const all = (await client.files.list()).data.map((file) => file.id);
    assert.ok(all.length >= 5);
    const first = await client.files.list({ limit: 2 });
    assert.deepEqual(
      first.data.map((file) => file.id),
      all.slice(0, 2),
    );
    assert.equal(first.has_more, true);
    const paged: string[] = [];
    for await (const file of client.files.list({ limit: 2 })) paged.push(file.id);
    assert.deepEqual(paged, all, 'every file once, in the same order as one page of all');
    const oldestFirst: string[] = [];
    for await (const file of client.files.list({ limit: 2, order: 'asc' })) oldestFirst.push(file.id);
    assert.deepEqual(oldestFirst, [...all].reverse());
    const { status, json } = await raw(`${base}/v1/files?limit=0`, { method: 'GET' });
    assert.equal(status, 400);
    assert.equal(json.error.param, 'limit');
  });

  it('honours expires_after on files and output_expires_after on batches, showing expires_at', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(batchLines(3, { model: 'tiny', prefix: 'exp' })), 'expiring.jsonl'),
      purpose: 'batch',
      expires_after: { anchor: 'created_at', seconds: 3600 },
    });
    assert.equal(file.expires_at, file.created_at + 3600);
    assert.equal((await client.files.retrieve(file.id)).expires_at, file.created_at + 3600);
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      output_expires_after: { anchor: 'created_at', seconds: 7200 },
    });
    const batch = await waitUntil(client, created.id, ended);
    assert.equal(batch.status, 'completed');
    const output = await client.files.retrieve(batch.output_file_id!);
    assert.ok(
      output.expires_at! >= batch.finalizing_at! + 7200 && output.expires_at! <= batch.completed_at! + 7200,
      'counted from when the output is complete',
    );
    for (const seconds of [60, 2_592_001]) {
      await assert.rejects(
        client.files.create({
          file: await toFile(Buffer.from('x'), 'a.jsonl'),
          purpose: 'batch',
          expires_after: { anchor: 'created_at', seconds },
        }),
        (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'expires_after.seconds',
      );
      await assert.rejects(
        client.batches.create({
          input_file_id: file.id,
          endpoint: '/v1/chat/completions',
          completion_window: '24h',
          output_expires_after: { anchor: 'created_at', seconds },
        }),
        (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'output_expires_after.seconds',
      );
    }
  });

  it("lists the engine's models, and files by purpose", async () => {
    const models = await client.models.list();
    assert.ok(models.data.length > 0 && models.data.every((model) => model.object === 'model'));
    const inputs = await client.files.list({ purpose: 'batch' });
    assert.ok(inputs.data.length >= 3 && inputs.data.every((file) => file.purpose === 'batch'));
  });

  it("answers errors in OpenAI's shape, raised as the SDK's own error classes", async () => {
    await assert.rejects(client.batches.retrieve('batch_00000000000000000000dead'), (error: unknown) => {
      assert.ok(error instanceof OpenAI.NotFoundError);
      assert.equal((error as any).error.type, 'invalid_request_error');
      return true;
    });
    const file = (await client.files.list({ purpose: 'batch' })).data[0]!;
    // 24 hours or longer, as the README says: OpenAI's 24h, or more for a long job; never less.
    for (const window of ['2w', '1h', '23h'])
      await assert.rejects(
        client.batches.create({
          input_file_id: file.id,
          endpoint: '/v1/chat/completions',
          completion_window: window as '24h',
        }),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.BadRequestError);
          assert.equal((error as any).param, 'completion_window');
          return true;
        },
      );
    await assert.rejects(
      client.files.create({ file: await toFile(Buffer.from('x'), 'a.jsonl'), purpose: 'fine-tune' }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.BadRequestError);
        assert.equal((error as any).code, 'invalid_purpose');
        return true;
      },
    );
    const running = await client.batches.create({
      input_file_id: (
        await client.files.create({
          file: await toFile(Buffer.from(batchLines(2000, { model: 'tiny', prefix: 'busy' })), 'busy.jsonl'),
          purpose: 'batch',
        })
      ).id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    await waitUntil(client, running.id, (batch) => batch.status === 'in_progress');
    await assert.rejects(client.files.delete(running.input_file_id), (error: unknown) => {
      assert.ok(error instanceof OpenAI.ConflictError);
      assert.match((error as any).message, /used by batch/);
      return true;
    });
    await client.batches.cancel(running.id);
    await waitUntil(client, running.id, ended);
    const deleted = await client.files.delete(running.input_file_id);
    assert.equal(deleted.deleted, true);
    await assert.rejects(client.files.retrieve(running.input_file_id), OpenAI.NotFoundError);
  });

  it('refuses path traversal and malformed ids with a 404, never a file', async () => {
    for (const path of [
      '/v1/files/..%2F..%2Fdb.json/content',
      '/v1/files/../db.json',
      '/v1/files/%2Fetc%2Fpasswd/content',
      '/v1/files//etc/passwd',
      '/v1/batches/..%2Fdb.json',
    ]) {
      const { status, json } = await raw(`${base}${path}`, { method: 'GET' });
      assert.ok(status === 404, `${path}: ${status}`);
      assert.deepEqual(Object.keys(json.error).sort(), ['code', 'message', 'param', 'type']);
    }
  });

  it('rejects a truncated multipart upload and the wrong content type, leaving no partial file', async () => {
    const boundary = 'xyzzy';
    const partial = `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n${JSON.stringify(requestLine(1, { model: 'tiny' }))}\n`;
    const truncated = await raw(
      `${base}/v1/files`,
      { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } },
      partial,
    );
    assert.equal(truncated.status, 400);
    assert.equal(truncated.json.error.code, 'invalid_multipart');
    const wrongType = await raw(
      `${base}/v1/files`,
      { method: 'POST', headers: { 'content-type': 'text/plain' } },
      'hello',
    );
    assert.equal(wrongType.status, 415);
    const files = readdirSync(join(dataDir, 'files'));
    assert.deepEqual(
      files.filter((name) => name.endsWith('.part')),
      [],
    );
  });

  it("uploads 200 MB with the daemon's memory flat", async function () {
    const path = join(tempDir(), 'large.jsonl');
    const out = createWriteStream(path);
    const line = JSON.stringify(requestLine(1, { model: 'tiny', systemPrompt: 'x'.repeat(2000) })) + '\n';
    for (let written = 0; written < 200 * 1024 * 1024; written += line.length)
      if (!out.write(line)) await once(out, 'drain');
    out.end();
    await once(out, 'finish');
    const rss = (): number =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.child.pid}/status`, 'utf8'))![1]) / 1024;
    const before = rss();
    const file = await client.files.create({ file: createReadStream(path), purpose: 'batch' });
    const peak = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.child.pid}/status`, 'utf8'))![1]) / 1024;
    assert.ok(file.bytes >= 200 * 1024 * 1024);
    assert.ok(
      peak - before < 100,
      `daemon RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB: it grew with the upload`,
    );
    console.log(`      200 MB upload: daemon RSS ${before.toFixed(0)} MB before, ${peak.toFixed(0)} MB at its peak`);
  });

  it("serves Prometheus metrics whose counters match the batches' files", async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const value = (name: string): number => {
      const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
      assert.ok(match, `${name} in /metrics`);
      return Number(match[1]);
    };
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#')))
      assert.match(line, /^[a-z_:][a-z0-9_:]*(\{[^}]*\})? [0-9.e+-]+$|NaN$/i);
    let completed = 0;
    let failed = 0;
    for await (const batch of client.batches.list({ limit: 100 })) {
      if (batch.output_file_id) completed += readJsonl(join(dataDir, 'files', `${batch.output_file_id}.jsonl`)).length;
      if (batch.error_file_id) failed += readJsonl(join(dataDir, 'files', `${batch.error_file_id}.jsonl`)).length;
    }
    assert.equal(value('ollama_batch_requests_completed_total'), completed);
    assert.equal(value('ollama_batch_requests_failed_total'), failed);
    assert.equal(value('ollama_batch_engine_up'), 1);
    assert.ok(value('ollama_batch_request_duration_seconds_count') >= completed - failed);
    assert.match(text, /ollama_batch_batches\{status="completed"\} [1-9]/);
  });
});

describe("the HTTP API's guard", function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  before(async () => (emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] })));
  after(() => emulator.close());

  it('requires the API key on every route but /health, and refuses uploads over the limit with 413', async () => {
    const daemon = await startDaemonProcess(tempDir(), [
      '--ollama-url',
      emulator.url,
      '--api-key',
      'sekret',
      '--max-upload-mb',
      '1',
    ]);
    try {
      const base = (await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type)).http;
      assert.equal((await fetch(`${base}/health`)).status, 200);
      const wrong = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'nope', maxRetries: 0 });
      await assert.rejects(wrong.batches.list(), OpenAI.AuthenticationError);
      assert.equal((await fetch(`${base}/metrics`)).status, 401);
      const right = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sekret', maxRetries: 0 });
      assert.equal((await right.batches.list()).data.length, 0);
      await assert.rejects(
        right.files.create({ file: await toFile(Buffer.alloc(2 * 1024 * 1024, 'a'), 'big.jsonl'), purpose: 'batch' }),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.APIError);
          assert.equal((error as any).status, 413);
          assert.equal((error as any).code, 'file_too_large');
          return true;
        },
      );
    } finally {
      await daemon.stop();
    }
  });

  it('sends no CORS headers unless an origin is configured, and then only that origin', async () => {
    for (const [args, allowed] of [
      [[], null],
      [['--cors-origin', 'https://app.example'], 'https://app.example'],
    ] as Array<[string[], string | null]>) {
      const daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url, ...args]);
      try {
        const base = (await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type)).http;
        const response = await fetch(`${base}/v1/batches`, { headers: { origin: 'https://app.example' } });
        assert.equal(response.headers.get('access-control-allow-origin'), allowed);
      } finally {
        await daemon.stop();
      }
    }
  });

  it('refuses a non-loopback bind without a key, at start, with a clear message', async () => {
    await assert.rejects(
      startDaemonProcess(tempDir(), ['--ollama-url', emulator.url, '--host', '0.0.0.0']),
      /refusing to serve HTTP on 0\.0\.0\.0 without an API key/,
    );
  });
});

describe('files that expire, across a daemon restart', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  before(async () => (emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] })));
  after(() => emulator.close());

  it('deletes at its next start a file that expired while the daemon was down', async () => {
    const dataDir = tempDir();
    const upload = async (client: OpenAI, seconds?: number) =>
      client.files.create({
        file: await toFile(Buffer.from(batchLines(1, { model: 'tiny' })), 'a.jsonl'),
        purpose: 'batch',
        ...(seconds !== undefined && { expires_after: { anchor: 'created_at' as const, seconds } }),
      });
    let daemon = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url]);
    let expiring: OpenAI.Files.FileObject;
    let kept: OpenAI.Files.FileObject;
    try {
      const { client } = await openaiClient(daemon.connection);
      expiring = await upload(client, 3600);
      kept = await upload(client);
    } finally {
      await daemon.stop();
    }
    // An hour passes while the daemon is down.
    const dbPath = join(dataDir, 'db.json');
    const db = JSON.parse(readFileSync(dbPath, 'utf8')) as { files: Array<{ id: string; expires_at: number | null }> };
    db.files.find((file) => file.id === expiring.id)!.expires_at = Math.floor(Date.now() / 1000) - 1;
    writeFileSync(dbPath, JSON.stringify(db));
    daemon = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url]);
    try {
      const { client } = await openaiClient(daemon.connection);
      const listed: string[] = [];
      for await (const file of client.files.list()) listed.push(file.id);
      assert.deepEqual(listed, [kept.id]);
      await assert.rejects(client.files.retrieve(expiring.id), OpenAI.NotFoundError);
      assert.deepEqual(readdirSync(join(dataDir, 'files')), [`${kept.id}.jsonl`], 'its bytes are gone too');
    } finally {
      await daemon.stop();
    }
  });
});

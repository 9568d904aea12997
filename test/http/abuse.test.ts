// Malformed and oversized requests get a 4xx answer the client can read, never a 500 or a
// connection dropped under it; a running batch's output is readable while it grows.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { batchLines, tempDir } from '../support/batch-files.js';
import { openaiClient, startDaemonProcess, waitForBatch, type DaemonProcess } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertOpenAiError, raw } from './raw-http.js';

describe('the HTTP API under malformed and oversized requests', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess;
  let dataDir: string;
  let base: string;
  let client: OpenAI;

  before(async () => {
    // One slot, 20 ms a request: a batch runs long enough to be read mid-run.
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 1, latencyMs: 20 });
    dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url, '--concurrency', '1']);
    ({ base, client } = await openaiClient(daemon.connection));
  });
  after(async () => {
    await daemon.stop();
    await emulator.close();
  });

  it('answers a multipart upload without a boundary with 400', async () => {
    const response = await raw(
      `${base}/v1/files`,
      { method: 'POST', headers: { 'content-type': 'multipart/form-data' } },
      'no parts here',
    );
    assertOpenAiError(response, 400, 'invalid_multipart');
  });

  it('answers a request target that is not a path with 400', async () => {
    for (const target of ['//[', '//[::1', '//evil.example:99999/v1/batches']) {
      const response = await raw(base, { path: target });
      assert.ok([400, 404].includes(response.status), `${target}: ${response.status}`);
      assert.deepEqual(Object.keys(response.json.error).sort(), ['code', 'message', 'param', 'type']);
    }
    assertOpenAiError(await raw(base, { path: '//[' }), 400, 'invalid_request_target');
  });

  it('answers a too-large JSON body with a whole 413 over a kept-alive connection, then closes it', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.equal((await raw(`${base}/v1/batches`, { agent })).status, 200); // the socket is now kept alive
      const body = JSON.stringify({ input_file_id: 'x'.repeat(4 * 1024 * 1024) });
      const tooLarge = await raw(
        `${base}/v1/batches`,
        { agent, method: 'POST', headers: { 'content-type': 'application/json' } },
        body,
      );
      assertOpenAiError(tooLarge, 413, 'request_too_large');
      assert.equal(tooLarge.headers.connection, 'close');
      assert.equal(
        (await raw(`${base}/v1/batches`, { agent })).status,
        200,
        'the next request gets a fresh connection',
      );
    } finally {
      agent.destroy();
    }
  });

  it('serves the whole lines a running batch has written so far, with their length', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(batchLines(1000, { model: 'tiny' })), 'long.jsonl'),
      purpose: 'batch',
    });
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const batch = await waitForBatch(daemon.connection, created.id, (state) => state.request_counts.completed >= 20);
    const onDisk = readFileSync(join(dataDir, 'files', `${batch.output_file_id}.jsonl`));
    const served = await raw(`${base}/v1/files/${batch.output_file_id}/content`, {});
    assert.equal((await client.batches.retrieve(created.id)).status, 'in_progress', 'read while the batch runs');
    await client.batches.cancel(created.id);

    assert.equal(served.status, 200);
    assert.equal(Number(served.headers['content-length']), served.body.length);
    const wholeOnDisk = onDisk.subarray(0, onDisk.lastIndexOf('\n') + 1);
    assert.ok(wholeOnDisk.length > 0, 'lines were on disk before the request');
    assert.ok(
      served.body.length >= wholeOnDisk.length && served.body.subarray(0, wholeOnDisk.length).equals(wholeOnDisk),
      'at least what was on disk',
    );
    assert.equal(served.body.at(-1), 0x0a, 'whole lines only');
    for (const line of served.body.toString('utf8').trimEnd().split('\n')) assert.ok(JSON.parse(line).custom_id);
  });
});

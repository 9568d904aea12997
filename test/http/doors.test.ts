// Who may reach the keyless loopback API: only this machine's programs, never a web page. A page
// can point its own DNS name at 127.0.0.1 (rebinding) or post cross-site forms to it; a --host
// that only looks like loopback, or a blank API key, must not open it to the network.
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { loadConfig } from '../../server/daemon/config.js';
import * as protocol from '../../server/protocol/methods.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import { startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertOpenAiError, raw } from './raw-http.js';

const BOUNDARY = 'doors-boundary';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;
const uploadForm = (content: string): string =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n${content}\r\n--${BOUNDARY}--\r\n`;

const httpUrl = async (daemon: DaemonProcess): Promise<string> =>
  (await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type)).http;

describe("the HTTP API's doors", function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess;
  let base: string;
  let port: number;
  let client: OpenAI;

  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
    daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url]);
    base = await httpUrl(daemon);
    port = Number(new URL(base).port);
    client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await daemon.stop();
    await emulator.close();
  });

  it('refuses a Host that is not a loopback name (DNS rebinding), naming it, on every route', async () => {
    for (const host of [
      'rebind.attacker.example',
      `rebind.attacker.example:${port}`,
      `127.0.0.1.attacker.example:${port}`,
      'localhost.attacker.example',
      '[::2]',
    ]) {
      for (const path of ['/v1/batches', '/health']) {
        const response = await raw(`${base}${path}`, { headers: { host } });
        assertOpenAiError(response, 403, 'host_not_allowed');
        assert.ok(response.json.error.message.includes(host), response.json.error.message);
      }
    }
  });

  it('serves loopback Host names, with or without a port', async () => {
    for (const host of [
      'localhost',
      `localhost:${port}`,
      'LocalHost',
      '127.0.0.1',
      `127.0.0.1:${port}`,
      '127.8.9.10',
      '[::1]',
      `[::1]:${port}`,
    ]) {
      assert.equal((await raw(`${base}/v1/batches`, { headers: { host } })).status, 200, host);
    }
  });

  it('refuses a cross-site upload with 403 before reading its body, and stores nothing', async function () {
    this.timeout(15_000); // the refusal must not wait for a body that never ends
    const before = (await client.files.list()).data.length;
    const whole = await raw(
      `${base}/v1/files`,
      { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': MULTIPART } },
      uploadForm(batchLines(1, { model: 'tiny' })),
    );
    assertOpenAiError(whole, 403, 'origin_not_allowed');
    assert.match(whole.json.error.message, /http:\/\/evil\.example/);

    const unfinished = http.request(`${base}/v1/files`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': MULTIPART },
    });
    unfinished.on('error', () => undefined); // the daemon closes the connection after its answer
    unfinished.write(uploadForm(batchLines(1, { model: 'tiny' })).slice(0, 200));
    const [response] = await new Promise<[http.IncomingMessage]>((resolve) =>
      unfinished.once('response', (answer) => resolve([answer])),
    );
    assert.equal(response.statusCode, 403);
    assert.equal(response.headers.connection, 'close');
    unfinished.destroy();
    assert.equal((await client.files.list()).data.length, before);
  });

  it('refuses a cross-site cancel before the handler runs', async () => {
    for (const origin of ['http://evil.example', 'null', `http://localhost:${port + 1}`]) {
      const response = await raw(`${base}/v1/batches/batch_00000000000000000000dead/cancel`, {
        method: 'POST',
        headers: { origin },
      });
      assertOpenAiError(response, 403, 'origin_not_allowed'); // the handler would answer 404: no such batch
    }
  });

  it("serves its own origin's browser requests, and requests without an Origin", async () => {
    for (const [host, origin] of [
      [`127.0.0.1:${port}`, base],
      [`localhost:${port}`, `http://localhost:${port}`],
    ]) {
      assert.equal(
        (await raw(`${base}/v1/batches`, { headers: { host: host!, origin: origin! } })).status,
        200,
        origin,
      );
    }
    assert.equal((await raw(`${base}/v1/batches`, {})).status, 200);
  });

  it('allows the --cors-origin origin and no other', async () => {
    const cors = await startDaemonProcess(tempDir(), [
      '--ollama-url',
      emulator.url,
      '--cors-origin',
      'https://app.example',
    ]);
    try {
      const corsBase = await httpUrl(cors);
      const allowed = await raw(`${corsBase}/v1/batches`, { headers: { origin: 'https://app.example' } });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
      assert.equal(
        (await raw(`${corsBase}/v1/batches`, { method: 'OPTIONS', headers: { origin: 'https://app.example' } })).status,
        204,
      );
      assertOpenAiError(
        await raw(`${corsBase}/v1/batches`, { headers: { origin: 'http://evil.example' } }),
        403,
        'origin_not_allowed',
      );
      assertOpenAiError(
        await raw(`${corsBase}/v1/batches`, { method: 'OPTIONS', headers: { origin: 'http://evil.example' } }),
        403,
        'origin_not_allowed',
      );
    } finally {
      await cors.stop();
    }
  });

  it('takes any Host when bound off loopback, where the API key guards it', async () => {
    const open = await startDaemonProcess(tempDir(), [
      '--ollama-url',
      emulator.url,
      '--host',
      '0.0.0.0',
      '--api-key',
      'sekret',
    ]);
    try {
      const response = await raw(`${await httpUrl(open)}/v1/batches`, {
        headers: { host: 'batch-server.lan', authorization: 'Bearer sekret' },
      });
      assert.equal(response.status, 200);
    } finally {
      await open.stop();
    }
  });

  it('decides loopback on the address --host resolves to, not on how the name begins', async () => {
    await assert.rejects(
      startDaemonProcess(tempDir(), ['--ollama-url', emulator.url, '--host', '127.attacker.example']),
      /cannot serve HTTP on 127\.attacker\.example: the name does not resolve/,
    );
    const named = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url, '--host', 'localhost']);
    try {
      const namedBase = await httpUrl(named);
      assert.match(namedBase, /^http:\/\/(127\.0\.0\.1|\[::1\]):\d+$/);
      assert.equal(
        (await raw(`${namedBase}/v1/batches`, { headers: { host: 'rebind.attacker.example' } })).status,
        403,
        'a loopback bind by name checks Host too',
      );
    } finally {
      await named.stop();
    }
  });

  it('refuses an empty or blank API key at config validation', () => {
    for (const apiKey of ['', ' ', '\t ']) {
      assert.throws(
        () => loadConfig(tempDir(), { apiKey }),
        /--api-key: expected text, not blank/,
        JSON.stringify(apiKey),
      );
    }
    const saved = process.env.OLLAMA_BATCH_API_KEY;
    process.env.OLLAMA_BATCH_API_KEY = '  ';
    try {
      assert.throws(() => loadConfig(tempDir(), {}), /\$OLLAMA_BATCH_API_KEY: expected text, not blank/);
    } finally {
      if (saved === undefined) delete process.env.OLLAMA_BATCH_API_KEY;
      else process.env.OLLAMA_BATCH_API_KEY = saved;
    }
  });
});

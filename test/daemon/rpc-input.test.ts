// What a socket client sends is checked before it is used: params that are not an object are a
// JSON-RPC invalid params error (-32602) that says what was expected, never a TypeError's text;
// file/validate reads only regular files, so a device or a pipe cannot keep the daemon reading.
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, truncateSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { ResponseError } from 'vscode-jsonrpc';
import { SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { connectSocket } from '../../server/daemon-access/local-daemon.js';
import * as protocol from '../../server/protocol/methods.js';
import { tempDir } from '../support/batch-files.js';
import { startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

const INVALID_PARAMS = -32602;

/** The error a request is answered with; fails when it succeeds or gets no answer within `ms`. */
async function rpcError(request: Promise<unknown>, ms = 10_000): Promise<ResponseError<unknown>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)),
  );
  try {
    await Promise.race([request, late]);
  } catch (error) {
    if (error instanceof ResponseError) return error;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  assert.fail('the request succeeded');
}

/** Sends one request exactly as given (a client library would wrap `null` params in an array) and resolves with its answer as an error. */
function sendAsIs(socket: Socket, method: string, params: unknown): Promise<ResponseError<unknown>> {
  const id = Math.floor(Math.random() * 1e9);
  const reader = new SocketMessageReader(socket);
  const answer = new Promise<unknown>((resolve, reject) => {
    reader.listen((message) => {
      const response = message as { id?: number; result?: unknown; error?: { code: number; message: string } };
      if (response.id !== id) return;
      reader.dispose();
      if (response.error) reject(new ResponseError(response.error.code, response.error.message));
      else resolve(response.result);
    });
  });
  void new SocketMessageWriter(socket).write({ jsonrpc: '2.0', id, method, params } as never);
  return rpcError(answer);
}

describe('JSON-RPC input the daemon refuses', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess;
  const dataDir = tempDir();

  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
    daemon = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url]);
  });
  after(async () => {
    await daemon.kill9(); // a daemon still reading /dev/zero would not stop on SIGTERM
    await emulator.close();
  });

  it('answers params that are not an object with invalid params, saying what it needs', async () => {
    const socket = (await connectSocket(dataDir))!;
    try {
      for (const [method, params, needs] of [
        [
          'batch/create',
          null,
          /^batch\/create needs its params as an object with input_file_id \(a string\); got null$/,
        ],
        ['batch/create', { input_file_id: 7 }, /^batch\/create needs params\.input_file_id as a string; got 7$/],
        ['batch/get', null, /^batch\/get needs its params as an object with id \(a string\); got null$/],
        ['file/validate', null, /^file\/validate needs its params as an object with path \(a string\); got null$/],
        [
          'csv/convert',
          null,
          /^csv\/convert needs its params as an object with input \(a string\) and model \(a string\); got null$/,
        ],
        [
          'csv/convert',
          { input: 5, model: 'tiny', numCtx: 4096 },
          /^csv\/convert needs params\.input as a string; got 5$/,
        ],
        ['batch/list', { after: 5 }, /^batch\/list needs params\.after as a string; got 5$/],
      ] as const) {
        const error = await sendAsIs(socket, method, params);
        assert.equal(error.code, INVALID_PARAMS, `${method} ${JSON.stringify(params)}: ${error.message}`);
        assert.match(error.message, needs);
      }
    } finally {
      socket.destroy();
    }
    // The daemon goes on answering.
    assert.equal((await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type)).pid, daemon.child.pid);
  });

  it('refuses to validate what is not a regular file, naming it', async function () {
    if (process.platform === 'win32') this.skip(); // no /dev/zero
    for (const path of ['/dev/zero', tempDir()]) {
      const error = await rpcError(daemon.connection.sendRequest(protocol.FileValidateRequest.type, { path }));
      assert.equal(error.code, INVALID_PARAMS);
      assert.equal(error.message, `${path} is not a regular file; only a file can be validated`);
    }
    const missing = await rpcError(
      daemon.connection.sendRequest(protocol.FileValidateRequest.type, { path: '/no/such.jsonl' }),
    );
    assert.equal(missing.message, 'no such file: /no/such.jsonl');
  });

  it('stops validating a file when the client that asked has gone', async function () {
    if (process.platform !== 'linux') this.skip(); // reads the daemon's open files from /proc
    // 8 GB without a newline (sparse: no disk used), which takes the reader seconds to get through.
    const path = join(tempDir(), 'huge.jsonl');
    const size = 8 * 1024 ** 3;
    truncateSync(openAndClose(path), size);
    const pid = daemon.child.pid!;
    /** Where the daemon's read of `path` is, or null once it has closed the file. */
    const readPosition = (): number | null => {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const target = (() => {
          try {
            return readlinkSync(`/proc/${pid}/fd/${fd}`);
          } catch {
            return '';
          }
        })();
        if (target !== path) continue;
        try {
          return Number(/^pos:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1]);
        } catch {
          return null; // closed between the two reads
        }
      }
      return null;
    };
    const client = await connectSocket(dataDir);
    void new SocketMessageWriter(client!).write({
      jsonrpc: '2.0',
      id: 1,
      method: protocol.FileValidateRequest.type.method,
      params: { path },
    } as never);
    let started: number | null = null;
    while (started === null) started = await nextTick(readPosition);
    client!.destroy();
    let last: number = started;
    for (let now: number | null = started; now !== null; now = await nextTick(readPosition)) last = now;
    assert.ok(last < size / 2, `the daemon read ${last} of ${size} bytes after its client left`);
  });
});

/** `read()` on the next turn of the event loop: a poll of /proc, which has no event to wait on. */
const nextTick = <T>(read: () => T): Promise<T> => new Promise((resolve) => setImmediate(() => resolve(read())));

function openAndClose(path: string): string {
  closeSync(openSync(path, 'w'));
  return path;
}

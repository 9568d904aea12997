// The daemon's HTTP port as its clients find it: with `--port 0` the real port is in the lock
// file (nothing else tells a client that did not start it), and a taken port ends a detached start
// with an exit code of its own, so a starter offers another port without reading the log's words.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import {
  DaemonExitedError,
  EXIT_HTTP_PORT_IN_USE,
  readLock,
  startDetachedDaemon,
} from '../../server/daemon-access/local-daemon.js';
import * as protocol from '../../server/protocol/methods.js';
import { tempDir } from '../support/batch-files.js';
import { CLI, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

describe("the daemon's HTTP port", function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess | undefined;
  let occupier: Server | undefined;

  before(async () => {
    emulator = await startOllamaEmulator({ instant: true });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    occupier?.close();
    occupier = undefined;
  });
  after(() => emulator.close());

  it('any free port: the lock file names the one it listens on', async () => {
    const dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url, '--port', '0']);
    const http = readLock(dataDir)?.http;
    assert.match(http ?? '', /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    assert.equal(http, (await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type)).http);
    const health = await fetch(`${http}/health`);
    assert.equal(health.status, 200);
  });

  it('a taken port: the detached start fails with the exit code for it, and leaves no lock', async () => {
    occupier = createServer();
    occupier.listen(0, '127.0.0.1');
    await once(occupier, 'listening');
    const { port } = occupier.address() as { port: number };
    const dataDir = tempDir();
    const failure: unknown = await startDetachedDaemon(dataDir, {
      execPath: process.execPath,
      args: [CLI],
      serveArgs: ['--ollama-url', emulator.url, '--port', String(port)],
    }).then(
      () => assert.fail('the daemon started on a taken port'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof DaemonExitedError, String(failure));
    assert.equal(failure.exitCode, EXIT_HTTP_PORT_IN_USE);
    assert.match(failure.lastLine ?? '', new RegExp(`HTTP port ${port} .* is in use`));
    assert.equal(readLock(dataDir), null);
  });
});

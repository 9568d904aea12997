// Following a batch over a connection that fails: a daemon killed while we connect to it can
// take the connection and then break the first write (EPIPE) before the socket reports its close.
// That is a daemon gone, to restart, never a daemon's refusal that ends the command.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { createMessageConnection, type MessageConnection } from 'vscode-jsonrpc';
import { StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { EXIT, followBatch } from '../../server/cli/follow.js';
import { CliError, call } from '../../server/cli/daemon-connection.js';
import * as protocol from '../../server/protocol/methods.js';
import { lockPath, type LockInfo } from '../../server/daemon-access/local-daemon.js';
import { cli, freshDataDir } from '../support/cli-process.js';
import { makeBatch } from '../client/batches.js';

/** A connection whose every write fails as a write to a closed socket does; it never closes. */
function brokenPipe(): MessageConnection {
  const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  // Not closed on the error: a socket to a dying process may report its close only later.
  const sink = new Writable({ autoDestroy: false, write: (_chunk, _encoding, done) => done(epipe) });
  sink.on('error', () => {}); // the writer reports it through the request's rejection
  const connection = createMessageConnection(new StreamMessageReader(new PassThrough()), new StreamMessageWriter(sink));
  connection.listen();
  return connection;
}

/** Both ends of a working connection: the CLI's, and a daemon's that the test answers on. */
function pipePair(): { cli: MessageConnection; daemon: MessageConnection } {
  const up = new PassThrough();
  const down = new PassThrough();
  const cli = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  const daemon = createMessageConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
  cli.listen();
  daemon.listen();
  return { cli, daemon };
}

describe('following over a connection that fails', () => {
  it('takes a write that fails before the close for a daemon gone: reconnects and follows to the end', async () => {
    const done = makeBatch({
      id: 'batch_1',
      status: 'completed',
      request_counts: { total: 3, completed: 3, failed: 0 },
    });
    const { cli, daemon } = pipePair();
    daemon.onRequest(protocol.BatchGetRequest.type, () => done);
    let reconnects = 0;
    const code = await followBatch(brokenPipe(), makeBatch({ id: 'batch_1' }), {
      dataDir: 'unused',
      json: true,
      printResult: false,
      reconnect: async () => {
        reconnects++;
        return cli;
      },
    });
    assert.equal(code, EXIT.completed);
    assert.equal(reconnects, 1);
    daemon.dispose();
  });

  it("says a failed write is a lost connection, and passes the daemon's own refusal on as it is", async () => {
    const broken = brokenPipe();
    await assert.rejects(
      call(() => broken.sendRequest(protocol.BatchGetRequest.type, { id: 'batch_1' })),
      (error: unknown) => error instanceof CliError && error.message === "lost the daemon's connection (write EPIPE)",
    );
    const { cli, daemon } = pipePair();
    daemon.onRequest(protocol.BatchGetRequest.type, () => {
      throw new Error('no batch batch_1');
    });
    await assert.rejects(
      call(() => cli.sendRequest(protocol.BatchGetRequest.type, { id: 'batch_1' })),
      (error: unknown) => error instanceof CliError && /no batch batch_1/.test(error.message),
    );
    daemon.dispose();
  });
});

describe('a daemon that exits in the middle of a message', () => {
  it('leaves `stop` to end as soon as the connection closes, not held by the cut message', async function () {
    this.timeout(60_000);
    // A daemon as the CLI finds it (its lock and socket) that answers the shutdown with the
    // start of a message and is gone, as one whose exit cut its last write.
    const dataDir = freshDataDir();
    const socketPath = join(dataDir, 'daemon.sock');
    const daemon = createServer((socket) =>
      socket.once('data', () => socket.end('Content-Length: 100\r\n\r\n{"jsonrpc":"2.0","method":"daemon/stop')),
    ).listen(socketPath);
    await once(daemon, 'listening');
    const lock: LockInfo = { pid: process.pid, socket: socketPath, startedAt: Date.now() };
    writeFileSync(lockPath(dataDir), JSON.stringify(lock));
    try {
      const stop = await cli(['stop', '--data-dir', dataDir]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, /daemon stopping/);
    } finally {
      daemon.close();
    }
  });
});

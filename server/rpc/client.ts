// Connecting to the daemon from a local program (the CLI): find its socket through the lock
// file, or start a detached daemon that outlives the caller and wait for it to say it is ready.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createMessageConnection, type MessageConnection } from 'vscode-jsonrpc';
import { SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { readLock } from '../daemon/lock.js';

export const READY_LINE = 'ollama-batch daemon ready';

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A connection to the daemon of this data dir, or null when none runs. */
export async function connectDaemon(dataDir: string): Promise<MessageConnection | null> {
  const lock = readLock(dataDir);
  if (!lock) return null;
  const socket = await openSocket(lock.socket).catch(() => null);
  if (!socket) return null;
  const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
  connection.listen();
  return connection;
}

/** Starts `ollama-batch serve` detached (it keeps running after we exit), logging to daemon.log. */
export async function startDetachedDaemon(dataDir: string, serveArgs: string[]): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const logFile = openSync(join(dataDir, 'daemon.log'), 'a');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'serve', '--data-dir', dataDir, ...serveArgs], {
    detached: true,
    stdio: ['ignore', 'pipe', logFile],
    windowsHide: true,
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<boolean>((resolve) => {
    lines.on('line', (line) => line.startsWith(READY_LINE) && resolve(true));
    child.once('exit', () => resolve(false));
  });
  lines.close();
  child.stdout!.destroy();
  child.unref();
  if (!ready) throw new Error(`the daemon did not start; see ${join(dataDir, 'daemon.log')}`);
}

/** Connects to the running daemon, starting one first when none runs. */
export async function ensureDaemon(dataDir: string, serveArgs: string[]): Promise<{ connection: MessageConnection; started: boolean }> {
  const running = await connectDaemon(dataDir);
  if (running) return { connection: running, started: false };
  // Another client may start one at the same moment: then ours exits and we use theirs.
  const startFailure = await startDetachedDaemon(dataDir, serveArgs).then(() => null, (error: Error) => error);
  const connection = await connectDaemon(dataDir);
  if (!connection) throw startFailure ?? new Error(`the daemon started but its socket does not answer; see ${join(dataDir, 'daemon.log')}`);
  return { connection, started: startFailure === null };
}

// One daemon per data dir: a lock file holding its pid and socket. A lock left by a killed
// daemon is taken over; a live one is refused with a message that says who holds it.
import { createHash } from 'node:crypto';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { lockPath, processAlive, readLock, type LockInfo } from '../protocol/daemon-access.js';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class DaemonRunningError extends Error {
  constructor(readonly holder: LockInfo, lockPath: string) {
    super(`another ollama-batch daemon already runs for this data dir (pid ${holder.pid}, socket ${holder.socket}, lock ${lockPath}); stop it first with: ollama-batch stop`);
    this.name = 'DaemonRunningError';
  }
}

/** The socket for a data dir: a Unix socket inside it (or in tmp when the path is too long), a named pipe on Windows. */
export function socketPath(dataDir: string): string {
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\ollama-batch-${hash}`;
  const inside = join(dataDir, 'daemon.sock');
  // sun_path holds 108 bytes on Linux, 104 on macOS.
  return Buffer.byteLength(inside) < 100 ? inside : join(tmpdir(), `ollama-batch-${hash}.sock`);
}

export function socketAnswers(socket: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = connect(socket);
    const done = (answer: boolean): void => {
      connection.destroy();
      resolve(answer);
    };
    connection.setTimeout(timeoutMs, () => done(false));
    connection.once('connect', () => done(true));
    connection.once('error', () => done(false));
  });
}

/** A lock is live while its process runs and either answers on its socket or is still starting. */
async function isLive(holder: LockInfo): Promise<boolean> {
  if (holder.pid === process.pid || !processAlive(holder.pid)) return false;
  const starting = Date.now() - holder.startedAt < 30_000;
  return starting || (await socketAnswers(holder.socket));
}

export async function acquireLock(dataDir: string, socket: string): Promise<{ release(): void }> {
  const path = lockPath(dataDir);
  const info: LockInfo = { pid: process.pid, socket, startedAt: Date.now() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify(info));
      closeSync(fd);
      return {
        release: () => {
          if (readLock(dataDir)?.pid === process.pid) unlinkSync(path);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readLock(dataDir);
    if (holder && (await isLive(holder))) throw new DaemonRunningError(holder, path);
    try {
      unlinkSync(path); // stale: its daemon is gone
    } catch {
      // another starter removed it first; try again
    }
  }
  throw new Error(`could not take the lock ${path}: other daemons are starting at the same time`);
}

// One daemon per data dir: a lock file holding its pid and socket. A lock whose process is gone
// is taken over; one whose process runs is never, even when its socket does not answer (it may
// have been deleted): two daemons would run the same batches. The owner listens again when its
// socket file vanishes, so clients can reach it. A socket that cannot live in the data dir goes
// to a folder only its user can write, where no one else can squat its name.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { hint } from '../daemon-access/command-hint.js';
import { lockPath, processAlive, processStart, readLock, type LockInfo } from '../daemon-access/local-daemon.js';
import { log } from '../log/log.js';

export class DaemonRunningError extends Error {
  constructor(
    readonly holder: LockInfo,
    lockPath: string,
  ) {
    super(
      `another ollama-batch daemon already runs for this data dir (pid ${holder.pid}, socket ${holder.socket}, lock ${lockPath}); ` +
        `stop it with: ${hint(dirname(lockPath), 'stop')} (or kill ${holder.pid})`,
    );
    this.name = 'DaemonRunningError';
  }
}

/** A folder for sockets that only this user can write: `$XDG_RUNTIME_DIR/ollama-batch`, else `ollama-batch-<uid>` in the temp dir. */
function privateSocketFolder(): string {
  const uid = process.getuid!();
  const runtime = process.env.XDG_RUNTIME_DIR;
  const folder = runtime && isAbsolute(runtime) ? join(runtime, 'ollama-batch') : join(tmpdir(), `ollama-batch-${uid}`);
  try {
    mkdirSync(folder, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const info = lstatSync(folder);
  if (!info.isDirectory() || info.uid !== uid || (info.mode & 0o022) !== 0) {
    throw new Error(
      `the socket folder ${folder} must be a folder of yours that others cannot write; remove it, or choose a shorter --data-dir`,
    );
  }
  return folder;
}

/**
 * The socket for a data dir: `daemon.sock` inside it, or when that path is too long for a Unix
 * socket, one in a folder only this user can write (made here); a named pipe on Windows.
 */
export function prepareSocketPath(dataDir: string): string {
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\ollama-batch-${hash}`;
  const inside = join(dataDir, 'daemon.sock');
  // sun_path holds 108 bytes on Linux, 104 on macOS.
  return Buffer.byteLength(inside) < 100 ? inside : join(privateSocketFolder(), `${hash}.sock`);
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

/** The lock's process still runs: not gone, and not another process that got its pid since. */
function holderRuns(holder: LockInfo): boolean {
  if (holder.pid === process.pid || !processAlive(holder.pid)) return false;
  const started = processStart(holder.pid);
  return holder.processStart === undefined || started === null || started === holder.processStart;
}

export interface HeldLock {
  /** Adds the HTTP API's URL, so clients find the real port of `--port 0`. */
  setHttp(url: string): void;
  release(): void;
}

export async function acquireLock(dataDir: string, socket: string): Promise<HeldLock> {
  const path = lockPath(dataDir);
  const started = processStart(process.pid);
  const info: LockInfo = {
    pid: process.pid,
    socket,
    startedAt: Date.now(),
    ...(started !== null && { processStart: started }),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, JSON.stringify(info));
      closeSync(fd);
      return {
        setHttp: (url) => {
          // Written whole, then renamed over the lock: a reader never sees half a file, nor none.
          const next = `${path}.tmp`;
          writeFileSync(next, JSON.stringify({ ...info, http: url }), { mode: 0o600 });
          renameSync(next, path);
        },
        release: () => {
          if (readLock(dataDir)?.pid === process.pid) unlinkSync(path);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readLock(dataDir);
    if (holder && holderRuns(holder)) throw new DaemonRunningError(holder, path);
    try {
      unlinkSync(path); // stale: its daemon is gone
    } catch {
      // another starter removed it first; try again
    }
  }
  throw new Error(`could not take the lock ${path}: other daemons are starting at the same time`);
}

const SOCKET_CHECK_MS = 2000;

function listen(server: Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

const sameFile = (a: Stats | undefined, b: Stats | undefined): boolean =>
  a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;

function statOrNothing(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined; // gone, or its folder with it
  }
}

/**
 * Listens on the socket while the lock is held, and listens again when its file vanishes or is
 * replaced (a cleanup of the temp dir, a user's rm), checked every two seconds. Returns a
 * function that stops listening.
 */
export async function listenOnSocket(server: Server, socket: string): Promise<() => void> {
  if (process.platform === 'win32') {
    await listen(server, socket);
    return () => void server.close();
  }
  const listenFresh = async (): Promise<Stats> => {
    rmSync(socket, { force: true }); // left by a killed daemon, or what replaced ours; we hold the lock
    await listen(server, socket);
    chmodSync(socket, 0o600); // its folder is its user's alone already; the socket says so too
    return statSync(socket);
  };
  /** Our socket file; undefined while listening again fails (said once in the log, tried at every check). */
  let ours: Stats | undefined = await listenFresh();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<void> => {
    if (!sameFile(statOrNothing(socket), ours)) {
      const wasListening = ours !== undefined;
      if (wasListening) log('warn', `the socket ${socket} was removed or replaced; listening on it again`);
      server.close(); // stops accepting; connected clients stay
      ours = await listenFresh().catch((error: Error) => {
        if (wasListening)
          log(
            'error',
            `could not listen on ${socket} again (trying every ${SOCKET_CHECK_MS / 1000} s): ${error.message}`,
          );
        return undefined;
      });
    }
    if (!stopped) timer = setTimeout(() => void check(), SOCKET_CHECK_MS).unref();
  };
  timer = setTimeout(() => void check(), SOCKET_CHECK_MS).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
    server.close();
  };
}

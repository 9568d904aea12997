// How a local program finds the daemon of a data dir, or starts one: the lock file's format, the
// ready line `serve` prints, and a detached start that outlives the caller. The CLI, the daemon
// (which takes the lock) and the VS Code extension share this one implementation.
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import envPaths from 'env-paths';

/** What `<dataDir>/daemon.lock` holds while a daemon owns the data dir. */
export interface LockInfo {
  pid: number;
  socket: string;
  startedAt: number;
  /** When the holder's process started, from /proc (absent without it): a pid reused by another process does not hold the lock. */
  processStart?: string;
  /** The HTTP API's base URL, added once it listens: the real port when `--port 0` asked for any free one. */
  http?: string;
}

/**
 * `serve`'s exit code when its HTTP port is taken (EADDRINUSE's errno on Linux): a starter tells
 * this case from others without reading the log's words, and offers another port.
 */
export const EXIT_HTTP_PORT_IN_USE = 98;

/**
 * `serve`'s exit code when the llama-cpp engine is chosen and node-llama-cpp is missing (sysexits'
 * EX_UNAVAILABLE): the extension offers Install Embedded Engine.
 */
export const EXIT_ENGINE_MISSING = 69;

/** A detached `serve` that exited before it was ready: its exit code and the log's last line. */
export class DaemonExitedError extends Error {
  constructor(
    readonly exitCode: number | null,
    readonly lastLine: string | null,
    logPath: string,
  ) {
    super(`the daemon exited with code ${exitCode}${lastLine ? `: ${lastLine}` : ''} (see ${logPath})`);
    this.name = 'DaemonExitedError';
  }
}

/** The line `ollama-batch serve` prints on stdout once its socket listens. */
export const READY_LINE = 'ollama-batch daemon ready';

/** The given dir, else `$OLLAMA_BATCH_HOME`, else the platform's user data dir; always absolute. */
export function resolveDataDir(configured?: string): string {
  return resolve(configured || process.env.OLLAMA_BATCH_HOME || envPaths('ollama-batch', { suffix: '' }).data);
}

export const lockPath = (dataDir: string): string => join(dataDir, 'daemon.lock');
export const daemonLogPath = (dataDir: string): string => join(dataDir, 'daemon.log');

export function readLock(dataDir: string): LockInfo | null {
  try {
    return JSON.parse(readFileSync(lockPath(dataDir), 'utf8')) as LockInfo;
  } catch {
    return null;
  }
}

/** The fields of /proc/PID/stat from the state on (the command name, which may hold spaces, cut off), or null without /proc. */
function procStat(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed daemon whose parent has not reaped it yet is a zombie: gone for our purpose.
  // No /proc (macOS, Windows): trust kill(0).
  return procStat(pid)?.[0] !== 'Z';
}

/** When a process started (clock ticks since boot, field 22 of /proc/PID/stat), or null without /proc. */
export function processStart(pid: number): string | null {
  return procStat(pid)?.[19] ?? null;
}

/** A socket connected to the daemon of `dataDir`, or null when none answers. */
export function connectSocket(dataDir: string): Promise<Socket | null> {
  const lock = readLock(dataDir);
  if (!lock) return Promise.resolve(null);
  return new Promise((resolve) => {
    const socket = connect(lock.socket);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', () => resolve(null));
  });
}

/** How to run `ollama-batch serve`: the program, its arguments up to `serve`, and its env. */
export interface ServeCommand {
  execPath: string;
  /** Arguments before `serve`, e.g. the CLI script. */
  args: string[];
  /** Arguments after `serve --data-dir D`. */
  serveArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

/** The log's last line: what a daemon that could not start said last. */
function lastLogLine(dataDir: string): string | null {
  const file = openSync(daemonLogPath(dataDir), 'r');
  try {
    const size = fstatSync(file).size;
    const tail = Buffer.alloc(Math.min(size, 4096));
    readSync(file, tail, 0, tail.length, size - tail.length);
    return tail.toString('utf8').trimEnd().split('\n').at(-1) || null;
  } finally {
    closeSync(file);
  }
}

/** Runs `serve` detached (it outlives the caller), stderr appended to daemon.log, until it is ready. */
export function startDetachedDaemon(dataDir: string, command: ServeCommand): Promise<void> {
  // The daemon makes its data dir 0700 and what it writes 0600; its log is made here, so here too.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logFile = openSync(daemonLogPath(dataDir), 'a', 0o600);
  const child = spawn(
    command.execPath,
    [...command.args, 'serve', '--data-dir', dataDir, ...(command.serveArgs ?? [])],
    {
      cwd: dataDir,
      detached: true,
      stdio: ['ignore', 'pipe', logFile],
      env: command.env ?? process.env,
      windowsHide: true,
    },
  );
  closeSync(logFile); // the child holds its own handle
  return new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null): void =>
      settle(new DaemonExitedError(code, lastLogLine(dataDir), daemonLogPath(dataDir)));
    const settle = (error?: Error): void => {
      child.off('error', settle).off('exit', onExit);
      lines.close();
      child.stdout!.destroy();
      child.unref();
      if (error) reject(error);
      else resolve();
    };
    lines.on('line', (line) => line.startsWith(READY_LINE) && settle());
    child.once('error', settle).once('exit', onExit);
  });
}

/**
 * The daemon's socket, starting the daemon first when none answers. Another client may start
 * one at the same moment: then ours exits (the lock is taken) and we connect to theirs.
 */
export async function connectOrStartDaemon(
  dataDir: string,
  command: ServeCommand,
): Promise<{ socket: Socket; started: boolean }> {
  const running = await connectSocket(dataDir);
  if (running) return { socket: running, started: false };
  const startFailure = await startDetachedDaemon(dataDir, command).then(
    () => null,
    (error: Error) => error,
  );
  const socket = await connectSocket(dataDir);
  if (!socket)
    throw startFailure ?? new Error(`the daemon started but its socket does not answer; see ${daemonLogPath(dataDir)}`);
  return { socket, started: startFailure === null };
}

// Finding the daemon of a data dir through its lock file, and starting one detached (it outlives
// the window) when none answers. The daemon itself lives in server/; this is only the doorbell.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import envPaths from 'env-paths';
import * as vscode from 'vscode';

/** The line `ollama-batch serve` prints on stdout once its socket listens. */
const READY_LINE = 'ollama-batch daemon ready';

/** The setting `ollamaBatch.dataDir`, else `$OLLAMA_BATCH_HOME`, else the platform's user data dir. */
export function resolveDataDir(): string {
  const configured = vscode.workspace.getConfiguration('ollamaBatch').get<string>('dataDir')?.trim();
  return configured || process.env.OLLAMA_BATCH_HOME || envPaths('ollama-batch', { suffix: '' }).data;
}

export const daemonLogPath = (dataDir: string): string => join(dataDir, 'daemon.log');

/** `<dataDir>/daemon.lock`, written by the daemon that owns the data dir. */
export function readLock(dataDir: string): { pid: number; socket: string } | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'daemon.lock'), 'utf8')) as { pid: number; socket: string };
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A socket connected to the daemon of `dataDir`, or undefined when none answers. */
function connectDaemon(dataDir: string): Promise<Socket | undefined> {
  const lock = readLock(dataDir);
  if (!lock) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const socket = connect(lock.socket);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', () => resolve(undefined));
  });
}

/** Runs `cli.mjs serve` detached, with stderr appended to daemon.log, until it says it is ready. */
function startDaemon(dataDir: string, cliPath: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const logFile = openSync(daemonLogPath(dataDir), 'a');
  // Inside VS Code process.execPath is Electron: ELECTRON_RUN_AS_NODE makes it plain node.
  const child = spawn(process.execPath, [cliPath, 'serve', '--data-dir', dataDir], {
    cwd: dataDir,
    detached: true,
    stdio: ['ignore', 'pipe', logFile],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    windowsHide: true,
  });
  closeSync(logFile); // the child holds its own handle
  return new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null): void => settle(new Error(`the daemon exited with code ${code}; see ${daemonLogPath(dataDir)}`));
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
 * The daemon's socket, starting the daemon first when none answers. Another window may start one
 * at the same moment: then ours exits (the lock is taken) and we connect to theirs.
 */
export async function connectOrStartDaemon(dataDir: string, cliPath: string, log: { info(message: string): void }): Promise<Socket> {
  const running = await connectDaemon(dataDir);
  if (running) return running;
  log.info(`no daemon answers for ${dataDir}; starting one`);
  const startFailure = await startDaemon(dataDir, cliPath).then(() => undefined, (error: Error) => error);
  const started = await connectDaemon(dataDir);
  if (started) return started;
  throw startFailure ?? new Error(`the daemon started but its socket does not answer; see ${daemonLogPath(dataDir)}`);
}

/** Resolves true once the daemon `pid` has let go of the data dir (lock released or process gone). */
export async function waitForRelease(dataDir: string, pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (readLock(dataDir)?.pid === pid && processAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

// The benchmark's child processes: the Ollama emulator and the real daemon, each in its own
// process so that their CPU time is their own. Every child is registered, so that an error, a
// timeout or Ctrl-C still ends them all.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc';
import { READY_LINE } from '../../server/daemon-access/local-daemon.js';
import { connectDaemon } from '../../server/rpc/client.js';
import { tempDir } from '../support/batch-files.js';
import { CLI } from '../support/daemon-process.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EMULATOR_MAIN = resolve(repoRoot, 'test', 'support', 'ollama-emulator', 'main.ts');
const STOP_GRACE_MS = 15_000;
const START_TIMEOUT_MS = 120_000;
const LOG_LIMIT = 64 * 1024;

const running = new Set<ChildProcess>();
const scratch = new Set<string>();

/** A fresh temp dir that killAll() removes too, should the run end before its own cleanup. */
export function scratchDir(): string {
  const dir = tempDir('ollama-batch-bench-');
  scratch.add(dir);
  return dir;
}

export function removeScratchDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  scratch.delete(dir);
}

/** SIGKILLs every child still running and removes the scratch dirs (on errors, timeouts, signals). */
export function killAll(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  running.clear();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  scratch.clear();
}

/** SIGTERM, then SIGKILL when the child has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = STOP_GRACE_MS): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    running.delete(child);
    return;
  }
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
    running.delete(child);
  }
}

export interface Started {
  child: ChildProcess;
  line: string;
  log: () => string;
}

export interface SpawnOptions {
  /** Give the child a stdin pipe (child.stdin) to send it commands. */
  stdin?: boolean;
  /** Every stdout line after the ready line (they go to the log too). */
  onLine?: (line: string) => void;
}

/** Spawns `node ...args` and waits for a stdout line starting with `readyPrefix`. */
export async function spawnUntil(
  args: string[],
  readyPrefix: string,
  what: string,
  options: SpawnOptions = {},
): Promise<Started> {
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let log = '';
  const keep = (chunk: Buffer): void => {
    log += chunk.toString();
    if (log.length > LOG_LIMIT) log = log.slice(-LOG_LIMIT);
  };
  child.stderr!.on('data', keep);
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<string | null>((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise(null), START_TIMEOUT_MS);
    lines.on('line', (text) => {
      if (!text.startsWith(readyPrefix)) return keep(Buffer.from(`${text}\n`));
      clearTimeout(timer);
      resolvePromise(text);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolvePromise(null);
    });
  });
  if (line === null) {
    await stopChild(child, 1000);
    throw new Error(`${what} did not start:\n${log}`);
  }
  // Keep draining stdout, so a chatty child never blocks on a full pipe.
  lines.on('line', (text) => {
    keep(Buffer.from(`${text}\n`));
    options.onLine?.(text);
  });
  return { child, line, log: () => log };
}

export interface EmulatorProcess {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
  /** SIGKILL, as a crash or a pulled cable: no answer to what is in flight. */
  kill9(): Promise<void>;
}

/**
 * The Ollama emulator in instant mode, in its own node process (tsx as the loader), on `port`
 * (0: any free one; a given one brings a killed emulator back where its clients look).
 */
export async function startInstantEmulator(parallel: number, latencyMs = 0, port = 0): Promise<EmulatorProcess> {
  const args = [
    '--import',
    'tsx',
    EMULATOR_MAIN,
    '--port',
    String(port),
    '--instant',
    '--parallel',
    String(parallel),
    '--max-queue',
    '100000',
    '--latency-ms',
    String(latencyMs),
  ];
  const { child, line } = await spawnUntil(args, 'ollama emulator listening on ', 'the Ollama emulator');
  const url = /listening on (\S+)/.exec(line)![1]!;
  return {
    child,
    url,
    stop: () => stopChild(child),
    async kill9() {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      running.delete(child);
    },
  };
}

export interface DaemonChild {
  child: ChildProcess;
  pid: number;
  connection: MessageConnection;
  log: () => string;
  stop(): Promise<void>;
}

/**
 * `node [nodeArgs] dist/cli.mjs serve --data-dir D ...args` (the built daemon; `nodeArgs` may
 * add e.g. --cpu-prof), connected over its socket once it says it is ready.
 */
export async function startDaemonChild(dataDir: string, args: string[], nodeArgs: string[] = []): Promise<DaemonChild> {
  const { child, log } = await spawnUntil(
    [...nodeArgs, CLI, 'serve', '--data-dir', dataDir, '--port', '0', ...args],
    READY_LINE,
    'the daemon',
  );
  const connection = await connectDaemon(dataDir);
  if (!connection) {
    await stopChild(child, 1000);
    throw new Error(`the daemon is ready but its socket does not answer:\n${log()}`);
  }
  return {
    child,
    pid: child.pid!,
    connection,
    log,
    async stop() {
      connection.dispose();
      await stopChild(child);
    },
  };
}

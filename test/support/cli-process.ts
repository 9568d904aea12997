// The `ollama-batch` command line as a user runs it: the built CLI in child processes, to the
// end (`cli`) or watched while it runs (`startCli`), with data dirs of their own.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './batch-files.js';
import { CLI } from './daemon-process.js';

const exec = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI at `script` (the built one by default) with `args`, in `cwd` with `env` (this process's by default). */
export async function cli(
  args: string[],
  { cwd, script = CLI, env }: { cwd?: string; script?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [script, ...args], { cwd, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

export interface RunningCli {
  child: ChildProcess;
  /** stderr so far, line by line, with when each line arrived (ms since the epoch). */
  lines: Array<{ at: number; text: string }>;
  /** Resolves once a stderr line matches. */
  line(pattern: RegExp): Promise<string>;
  /** Resolves with its exit code and output once it exits. */
  exited: Promise<CliResult>;
}

/** The CLI running in the background (no terminal), its stderr watched as it comes. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines: RunningCli['lines'] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    for (const text of parts) {
      lines.push({ at: Date.now(), text });
      for (const waiter of waiters.filter(({ pattern }) => pattern.test(text))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(text);
      }
    }
  });
  const exited = once(child, 'close').then(([code]) => ({ code: code as number, stdout, stderr }));
  return {
    child,
    lines,
    exited,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const seen = lines.find(({ text }) => pattern.test(text));
        if (seen) return resolve(seen.text);
        waiters.push({ pattern, resolve });
        void exited.then(({ code }) =>
          reject(new Error(`the CLI exited (${code}) before printing ${pattern}:\n${stderr}`)),
        );
      }),
  };
}

/** A data dir whose daemon takes any free HTTP port (config.json), so test daemons never collide. */
export function freshDataDir(parent = tempDir(), name = 'data'): string {
  const dataDir = join(parent, name);
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ port: 0 }));
  return dataDir;
}

/** Resolves when the daemon's lock file is gone (the daemon has stopped). */
export function lockRemoved(dataDir: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dataDir, () => {
      if (!existsSync(join(dataDir, 'daemon.lock'))) {
        watcher.close();
        resolve();
      }
    });
    if (!existsSync(join(dataDir, 'daemon.lock'))) {
      watcher.close();
      resolve();
    }
  });
}

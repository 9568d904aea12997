// The extension's access to its daemon: the data dir from the setting, and the detached start
// through VS Code's own runtime. Finding and starting the daemon is daemon-access/local-daemon.ts.
import type { Socket } from 'node:net';
import * as vscode from 'vscode';
import {
  connectOrStartDaemon as connectOrStart,
  processAlive,
  readLock,
  resolveDataDir as fromSetting,
} from '../server/daemon-access/local-daemon.js';

export { daemonLogPath, processAlive, readLock } from '../server/daemon-access/local-daemon.js';

/** The setting `ollamaBatch.dataDir`, else `$OLLAMA_BATCH_HOME`, else the platform's user data dir. */
export function resolveDataDir(): string {
  return fromSetting(vscode.workspace.getConfiguration('ollamaBatch').get<string>('dataDir')?.trim());
}

/** The daemon's socket, starting `dist/cli.mjs serve` detached (with the settings' flags) when none answers. */
export async function connectOrStartDaemon(
  dataDir: string,
  cliPath: string,
  log: { info(message: string): void },
  serve: { args: string[]; env: Record<string, string> },
): Promise<Socket> {
  // Inside VS Code process.execPath is Electron: ELECTRON_RUN_AS_NODE makes it plain node.
  const env = { ...process.env, ...serve.env, ELECTRON_RUN_AS_NODE: '1' };
  const { socket, started } = await connectOrStart(dataDir, {
    execPath: process.execPath,
    args: [cliPath],
    serveArgs: serve.args,
    env,
  });
  if (started)
    log.info(
      `no daemon answered for ${dataDir}; started one${serve.args.length > 0 ? ` with ${serve.args.join(' ')}` : ''}`,
    );
  return socket;
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

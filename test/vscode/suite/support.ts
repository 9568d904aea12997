// What the extension-host tests share: the extension under test, its manifest, the scratch data
// dir the runner made (never the user's), and waits on events instead of sleeps.
import { existsSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import * as vscode from 'vscode';
import type { MessageConnection } from 'vscode-jsonrpc';
import { readLock } from '../../../server/daemon-access/local-daemon.js';
import { connectDaemon } from '../../../server/rpc/client.js';

export const EXTENSION_ID = 'ollama-batch.ollama-batch';

/** The parts of package.json `contributes` the tests follow, so they keep up with the UI work. */
export interface Contributes {
  commands?: { command: string; title: string; category?: string }[];
  /** One section, or several (each a settings group). */
  configuration?: ConfigurationSection | ConfigurationSection[];
  views?: Record<string, { id: string; name?: string }[]>;
}

export interface SettingDeclaration {
  default?: unknown;
  description?: string;
  markdownDescription?: string;
}

interface ConfigurationSection {
  properties?: Record<string, SettingDeclaration>;
}

export async function activeExtension(): Promise<vscode.Extension<unknown>> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  if (!extension) throw new Error(`${EXTENSION_ID} is not loaded in this extension host`);
  await extension.activate();
  return extension;
}

export function contributes(extension: vscode.Extension<unknown>): Contributes {
  return (extension.packageJSON as { contributes?: Contributes }).contributes ?? {};
}

/** The runner's scratch data dir (its config.json selects the llama-cpp engine on the tiny model). */
export function dataDir(): string {
  const dir = process.env.OLLAMA_BATCH_HOME;
  if (!dir)
    throw new Error(
      'OLLAMA_BATCH_HOME is not set: run this suite through npm run test:vscode or test:vscode:code-server',
    );
  return dir;
}

export function workspaceFolder(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('no workspace folder is open');
  return folder.uri;
}

/** Rejects after `ms` with what was awaited, so a missing event fails with a reason. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with `check`'s first defined answer, asked now and on every change in `dir` (no polling). */
export function whenInDir<T>(dir: string, check: () => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir, () => settle());
    const settle = (): void => {
      const found = check();
      if (found === undefined) return;
      watcher.close();
      resolve(found);
    };
    watcher.on('error', reject);
    settle();
  });
}

/** A JSON-RPC connection of our own to the daemon the extension started for `dir`. */
export async function daemonConnection(dir: string): Promise<MessageConnection> {
  // The daemon takes the lock first, loads the engine, then creates its socket by listening.
  const socket = await within(
    60_000,
    `the daemon's lock file in ${dir}`,
    whenInDir(dir, () => readLock(dir)?.socket),
  );
  await within(
    60_000,
    `the daemon's socket ${socket}`,
    whenInDir(dirname(socket), () => existsSync(socket) || undefined),
  );
  // Once in about ten loaded runs the fresh socket refused a first connection (cause not found):
  // a few more tries, with nothing else to wait on.
  for (let attempt = 1; ; attempt++) {
    const connection = await connectDaemon(dir);
    if (connection) return connection;
    if (attempt === 10) throw new Error(`the daemon of ${dir} does not answer on its socket`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The daemon's diagnostics, not VS Code's own JSON ones. */
export const SOURCE = 'ollama-batch';

export const codeOf = ({ code }: vscode.Diagnostic): string => String(typeof code === 'object' ? code.value : code);

/** Resolves with the daemon's diagnostics for `uri` once `holds` says they are the ones awaited. */
export function diagnosticsWith(
  uri: vscode.Uri,
  codes: string[],
  holds: (found: vscode.Diagnostic[]) => boolean = () => true,
): Promise<vscode.Diagnostic[]> {
  return new Promise((resolve) => {
    const check = (): void => {
      const found = vscode.languages.getDiagnostics(uri).filter((diagnostic) => diagnostic.source === SOURCE);
      if (!codes.every((code) => found.some((diagnostic) => codeOf(diagnostic) === code)) || !holds(found)) return;
      subscription.dispose();
      resolve(found);
    };
    const subscription = vscode.languages.onDidChangeDiagnostics(({ uris }) => {
      if (uris.some((changed) => changed.toString() === uri.toString())) check();
    });
    check();
  });
}

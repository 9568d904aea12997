// The real daemon as a child process (the built dist/cli.mjs), and a JSON-RPC client for it:
// what tests that kill, restart and share a daemon need.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import type { MessageConnection } from 'vscode-jsonrpc';
import type { Batch } from '../../server/protocol/openai.js';
import { TERMINAL_STATUSES } from '../../server/protocol/openai.js';
import * as protocol from '../../server/protocol/methods.js';
import { READY_LINE } from '../../server/daemon-access/local-daemon.js';
import { connectDaemon } from '../../server/rpc/client.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.mjs', import.meta.url));

export interface DaemonProcess {
  child: ChildProcess;
  connection: MessageConnection;
  /** Everything the daemon wrote to stderr (its log). */
  log(): string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** Starts `ollama-batch serve` and connects to it once it says it is ready. */
export async function startDaemonProcess(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<DaemonProcess> {
  // Any free HTTP port, unless the test names one: tests run many daemons.
  const port = args.includes('--port') ? [] : ['--port', '0'];
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, ...port, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<boolean>((resolve) => {
    lines.on('line', (line) => line.startsWith(READY_LINE) && resolve(true));
    child.once('exit', () => resolve(false));
  });
  if (!ready) throw new Error(`daemon did not start:\n${stderr}`);
  const connection = await connectDaemon(dataDir);
  if (!connection) throw new Error('daemon is ready but its socket does not answer');
  const exited = once(child, 'exit');
  return {
    child,
    connection,
    log: () => stderr,
    async stop() {
      connection.dispose();
      child.kill('SIGTERM');
      await exited;
    },
    async kill9() {
      connection.dispose();
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The daemon's HTTP base URL, and the official openai client pointed at it (no retries: a test sees every answer). */
export async function openaiClient(connection: MessageConnection): Promise<{ base: string; client: OpenAI }> {
  const base = (await connection.sendRequest(protocol.DaemonStatusRequest.type)).http;
  return { base, client: new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 }) };
}

/** Registers a local file and creates a batch from it. */
export async function submit(
  connection: MessageConnection,
  path: string,
  window = '24h',
  metadata?: Record<string, string>,
): Promise<Batch> {
  const file = await connection.sendRequest(protocol.FileRegisterRequest.type, { path });
  return connection.sendRequest(protocol.BatchCreateRequest.type, {
    input_file_id: file.id,
    completion_window: window,
    ...(metadata && { metadata }),
  });
}

// A connection has one handler per notification method: share it among the waiters.
const listeners = new WeakMap<MessageConnection, Set<(batch: Batch) => void>>();

function onBatchChanged(connection: MessageConnection, listener: (batch: Batch) => void): () => void {
  let set = listeners.get(connection);
  if (!set) {
    const created = new Set<(batch: Batch) => void>();
    connection.onNotification(protocol.BatchChangedNotification.type, (batch) =>
      created.forEach((each) => each(batch)),
    );
    listeners.set(connection, (set = created));
  }
  set.add(listener);
  return () => set.delete(listener);
}

/** Resolves with the first state of the batch that satisfies `until` (from notifications). */
export function waitForBatch(
  connection: MessageConnection,
  id: string,
  until: (batch: Batch) => boolean,
): Promise<Batch> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const check = (batch: Batch): void => {
      if (settled || batch.id !== id || !until(batch)) return;
      settled = true;
      unsubscribe();
      resolve(batch);
    };
    const unsubscribe = onBatchChanged(connection, check);
    connection.sendRequest(protocol.BatchGetRequest.type, { id }).then(check, reject);
  });
}

export const isFinished = (batch: Batch): boolean => TERMINAL_STATUSES.includes(batch.status);

/** Where the daemon keeps a file; null for no file (a batch's output or error file that no line went to). */
export async function filePath(connection: MessageConnection, id: string): Promise<string>;
export async function filePath(connection: MessageConnection, id: string | null): Promise<string | null>;
export async function filePath(connection: MessageConnection, id: string | null): Promise<string | null> {
  return id === null ? null : (await connection.sendRequest(protocol.FileGetRequest.type, { id })).path;
}

/** Resolves with the first batch, listed now or changed later, that satisfies `until` (one created by the daemon itself). */
export function waitForAnyBatch(connection: MessageConnection, until: (batch: Batch) => boolean): Promise<Batch> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const check = (batch: Batch): void => {
      if (settled || !until(batch)) return;
      settled = true;
      unsubscribe();
      resolve(batch);
    };
    const unsubscribe = onBatchChanged(connection, check);
    connection
      .sendRequest(protocol.BatchListRequest.type, { limit: 100 })
      .then((list) => list.data.forEach(check), reject);
  });
}

// `ollama-batch run FILE`: submit a batch to the daemon (starting one if needed), follow its
// progress live, and say where the results are. Ctrl-C detaches; the batch goes on. A batch of
// the same bytes that has not ended yet is followed instead of submitted twice.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { MessageConnection } from 'vscode-jsonrpc';
import { CLIENT_COMPLETION_WINDOW } from '../batches/window.js';
import { hint } from '../daemon-access/command-hint.js';
import { daemonLogPath } from '../daemon-access/local-daemon.js';
import type { Batch } from '../protocol/openai.js';
import { TERMINAL_STATUSES } from '../protocol/openai.js';
import * as protocol from '../protocol/methods.js';
import { ensureDaemon } from '../rpc/client.js';
import { count } from './format.js';
import { CliError, call } from './daemon-connection.js';
import { followBatch } from './follow.js';
import { dataDirOf, settingsOf } from './options.js';
import { rememberRunSettings, settingsToApply } from './run-settings.js';

export interface RunFlags extends Record<string, unknown> {
  dataDir?: string;
  completionWindow?: string;
  json?: boolean;
  /** Submit even when a batch of the same input has not ended. */
  new?: boolean;
}

/**
 * The daemon of the data dir, started when none runs. The one place that says how the CLI
 * starts its daemon, at first and again after it died while being followed: with no settings
 * on its command line, so that it runs with what config.json remembers.
 */
async function daemonFor(dataDir: string): Promise<{ connection: MessageConnection; started: boolean }> {
  try {
    return await ensureDaemon(dataDir, [], process.env);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

/** The first connection of `run` or `follow`, saying when it started the daemon. */
export async function firstConnection(
  dataDir: string,
  json: boolean,
): Promise<{ connection: MessageConnection; started: boolean }> {
  const daemon = await daemonFor(dataDir);
  if (daemon.started && !json) console.error(`started a daemon for ${dataDir} (log: ${daemonLogPath(dataDir)})`);
  return daemon;
}

/** The reconnect that followBatch needs: the same daemon start, saying so. */
export const reconnectWith = (dataDir: string) => async (): Promise<MessageConnection> => {
  const { connection, started } = await daemonFor(dataDir);
  console.error(started ? 'daemon restarted; following again' : 'reconnected to the daemon; following again');
  return connection;
};

const sha256 = async (path: string): Promise<string> => {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
};

/**
 * A batch that has not ended whose input has the bytes of `path`, if any. The daemon keeps a
 * copy of each input in its data dir; only the few unfinished batches of the same size are hashed.
 */
async function sameInputRunning(connection: MessageConnection, path: string): Promise<Batch | undefined> {
  const list = await call(() => connection.sendRequest(protocol.BatchListRequest.type, { limit: 100 }));
  const size = statSync(path).size;
  let ours: string | undefined;
  for (const batch of list.data) {
    // One being cancelled will not give the results: a new one will.
    if (TERMINAL_STATUSES.includes(batch.status) || batch.status === 'cancelling') continue;
    const input = await connection
      .sendRequest(protocol.FileGetRequest.type, { id: batch.input_file_id })
      .catch(() => null);
    if (!input || input.bytes !== size) continue;
    ours ??= await sha256(path);
    if ((await sha256(input.path).catch(() => null)) === ours) return batch;
  }
  return undefined;
}

/** Returns the exit code (EXIT in follow.ts). */
export async function run(file: string, flags: RunFlags): Promise<number> {
  const path = resolve(file);
  if (!existsSync(path)) throw new CliError(`no such file: ${file}`);
  const dataDir = dataDirOf(flags);
  const asked = rememberRunSettings(dataDir, settingsOf(flags));
  const { connection, started } = await firstConnection(dataDir, flags.json ?? false);
  const follow = (batch: Batch): Promise<number> =>
    followBatch(connection, batch, { dataDir, json: flags.json ?? false, reconnect: reconnectWith(dataDir) });
  try {
    const info = await call(() => connection.sendRequest(protocol.DaemonStatusRequest.type));
    const toApply = started ? [] : settingsToApply(asked.daemon, info.config);
    if (toApply.length > 0) {
      console.error(
        `note: the running daemon (pid ${info.pid}) started with other settings; saved in config.json, they apply at its restart (running batches resume): ${toApply.join('; ')}\n  restart it with: ${hint(dataDir, 'stop')} && ${hint(dataDir, 'serve --detach')}`,
      );
    }
    const running = flags.new ? undefined : await sameInputRunning(connection, path);
    if (running) {
      const { total, completed, failed } = running.request_counts;
      console.error(
        `batch ${running.id} with the same input is already running (${count(completed + failed)}/${count(total)} done); following it; use --new to submit another`,
      );
      return await follow(running);
    }
    const inputFile = await call(() =>
      connection.sendRequest(protocol.FileRegisterRequest.type, { path, purpose: 'batch' }),
    );
    const created = await call(() =>
      connection.sendRequest(protocol.BatchCreateRequest.type, {
        input_file_id: inputFile.id,
        endpoint: '/v1/chat/completions',
        completion_window: flags.completionWindow ?? CLIENT_COMPLETION_WINDOW,
        metadata: { source: file },
        ...(Object.keys(asked.batch).length > 0 && { options: asked.batch }),
      }),
    );
    if (!flags.json) console.error(`batch ${created.id} submitted (${file}); Ctrl-C detaches, the batch goes on`);
    return await follow(created);
  } catch (error) {
    connection.dispose();
    throw error;
  }
}

/** `ollama-batch follow [ID]`: the progress of a batch already submitted; returns the exit code. */
export async function followCommand(
  id: string | undefined,
  flags: { dataDir?: string; json?: boolean },
): Promise<number> {
  const dataDir = dataDirOf(flags);
  // A batch moves on only while its daemon runs: start it if it does not.
  const { connection } = await firstConnection(dataDir, flags.json ?? false);
  let batch: Batch;
  try {
    if (id) batch = await call(() => connection.sendRequest(protocol.BatchGetRequest.type, { id }));
    else {
      const list = await call(() => connection.sendRequest(protocol.BatchListRequest.type, { limit: 100 }));
      const latest = list.data.find((each) => !TERMINAL_STATUSES.includes(each.status)) ?? list.data[0];
      if (!latest)
        throw new CliError(`no batches to follow in ${dataDir}; submit one with: ${hint(dataDir, 'run FILE.jsonl')}`);
      batch = latest;
    }
  } catch (error) {
    connection.dispose();
    throw error;
  }
  if (!flags.json) console.error(`following batch ${batch.id}; Ctrl-C detaches, the batch goes on`);
  return followBatch(connection, batch, { dataDir, json: flags.json ?? false, reconnect: reconnectWith(dataDir) });
}

// `ollama-batch run FILE`: submit a batch to the daemon (starting one if needed), follow its
// progress live, and say where the results are. Ctrl-C detaches; the batch goes on.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { MessageConnection } from 'vscode-jsonrpc';
import { CLIENT_COMPLETION_WINDOW } from '../batches/window.js';
import type { Batch } from '../protocol/openai.js';
import { TERMINAL_STATUSES } from '../protocol/openai.js';
import * as protocol from '../protocol/methods.js';
import { ensureDaemon } from '../rpc/client.js';
import { batchDetails } from './format.js';
import { CliError, call } from './daemon-connection.js';
import { dataDirOf, settingsOf } from './options.js';
import { dataDirArg, rememberRunSettings, settingsToApply } from './run-settings.js';

export interface RunFlags extends Record<string, unknown> {
  dataDir?: string;
  completionWindow?: string;
  json?: boolean;
}

/** Requests per second over the last 30 s of progress, and the time left at that pace. */
class Pace {
  private readonly samples: Array<{ at: number; done: number }> = [];
  rate(done: number): number {
    const at = Date.now();
    this.samples.push({ at, done });
    while (this.samples.length > 2 && at - this.samples[0]!.at > 30_000) this.samples.shift();
    const first = this.samples[0]!;
    return at > first.at ? ((done - first.done) * 1000) / (at - first.at) : 0;
  }
}

const formatEta = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return '?';
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours > 0
    ? `${hours}h${String(minutes).padStart(2, '0')}m`
    : `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
};

/** Shows progress until the batch ends; resolves with its last state. */
function follow(connection: MessageConnection, first: Batch, json: boolean): Promise<Batch> {
  // The bar goes to stderr, so it shows on a terminal even when stdout carries --json.
  const tty = process.stderr.isTTY;
  const bar = new SingleBar({
    // `timeLeft`, not `eta`: cli-progress fills `{eta}` itself, in raw seconds.
    format: '{bar} {done}/{total} | {rate} req/s | ETA {timeLeft} | {failed} failed {note}',
    hideCursor: true,
    barsize: 30,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
  });
  const pace = new Pace();
  let barStarted = false;
  let lastStatus = '';
  return new Promise((resolveBatch) => {
    const show = (batch: Batch): void => {
      if (batch.id !== first.id) return;
      const { total, completed, failed } = batch.request_counts;
      const done = completed + failed;
      const rate = pace.rate(done);
      const note = batch.paused_reason
        ? `(paused: ${batch.paused_reason})`
        : batch.status === 'in_progress'
          ? ''
          : `(${batch.status})`;
      if (tty && batch.status !== 'validating') {
        const payload = {
          done,
          rate: rate.toFixed(1),
          timeLeft: formatEta(rate > 0 ? (total - done) / rate : Infinity),
          failed,
          note,
        };
        if (!barStarted) bar.start(total, done, payload);
        else bar.update(done, payload);
        barStarted = true;
      } else if (batch.status === 'validating' && lastStatus !== 'validating' && !json) {
        console.error(`${batch.id} validating…`);
      } else if (!tty && !json && (batch.status !== lastStatus || batch.paused_reason)) {
        console.error(`${batch.id} ${batch.status} ${done}/${total} ${note}`);
      }
      lastStatus = batch.status;
      if (TERMINAL_STATUSES.includes(batch.status)) {
        if (barStarted) bar.stop();
        resolveBatch(batch);
      }
    };
    connection.onNotification(protocol.BatchChangedNotification.type, show);
    // The batch may have moved on before the subscription: ask once.
    void connection.sendRequest(protocol.BatchGetRequest.type, { id: first.id }).then(show, () => undefined);
    show(first);
  });
}

/** Returns the exit code: 0 only when the batch completed. */
export async function run(file: string, flags: RunFlags): Promise<number> {
  const path = resolve(file);
  if (!existsSync(path)) throw new CliError(`no such file: ${file}`);
  const dataDir = dataDirOf(flags);
  const asked = rememberRunSettings(dataDir, settingsOf(flags));
  // No settings on its command line: it reads what config.json remembers, as a restart would.
  const { connection, started } = await ensureDaemon(dataDir, [], process.env);
  if (started && !flags.json) console.error(`started a daemon for ${dataDir} (log: ${dataDir}/daemon.log)`);
  try {
    const info = await call(() => connection.sendRequest(protocol.DaemonStatusRequest.type));
    const toApply = started ? [] : settingsToApply(asked.daemon, info.config);
    if (toApply.length > 0) {
      console.error(
        `note: the running daemon (pid ${info.pid}) started with other settings; saved in config.json, they apply at its restart (running batches resume): ${toApply.join('; ')}\n  restart it with: ollama-batch stop${dataDirArg(dataDir)} && ollama-batch serve --detach${dataDirArg(dataDir)}`,
      );
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
    process.once('SIGINT', () => {
      console.error(`\ndetached; batch ${created.id} goes on. Follow it with: ollama-batch status ${created.id}`);
      process.exit(130);
    });
    const batch = await follow(connection, created, flags.json ?? false);
    const paths = await Promise.all(
      [batch.output_file_id, batch.error_file_id].map(async (id) =>
        id ? (await call(() => connection.sendRequest(protocol.FileGetRequest.type, { id }))).path : undefined,
      ),
    );
    if (flags.json)
      console.log(JSON.stringify({ batch, output_path: paths[0] ?? null, error_path: paths[1] ?? null }, null, 2));
    else console.log(batchDetails(batch, { output: paths[0], error: paths[1] }));
    return batch.status === 'completed' ? 0 : 1;
  } finally {
    connection.dispose();
  }
}

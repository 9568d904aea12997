// Following a batch to its end, for `run` and `follow`: the progress display, staying attached
// across a daemon that dies (it is restarted and the batch followed again), and the exit code
// that says how the batch ended.
import { SingleBar } from 'cli-progress';
import type { MessageConnection } from 'vscode-jsonrpc';
import type { Batch } from '../protocol/openai.js';
import { TERMINAL_STATUSES, waitsForResume } from '../protocol/openai.js';
import * as protocol from '../protocol/methods.js';
import { readLines } from '../jsonl/lines.js';
import { statusText } from '../display/batch-status.js';
import { batchDetails, count } from './format.js';
import { CliError, call, isDaemonRefusal } from './daemon-connection.js';
import { hint } from '../daemon-access/command-hint.js';

/** The exit codes of `run` and `follow` (README, "The CLI"). */
export const EXIT = {
  /** The batch completed and every line succeeded. */
  completed: 0,
  /** The command itself failed: bad arguments, no such file, the daemon could not start. */
  commandFailed: 1,
  /** The batch failed: its validation errors (nothing ran), or why the daemon could not go on with it. */
  batchFailed: 2,
  /** The batch ended with some lines failed. */
  linesFailed: 3,
  /** The batch was cancelled or expired. */
  cancelledOrExpired: 4,
  /** The pilot check paused the batch: it waits for `resume` or `cancel`. */
  paused: 5,
  /** Detached with Ctrl-C; the batch goes on. */
  detached: 130,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0    the batch completed and every line succeeded
  1    the command failed (bad arguments, no such file, the daemon could not start or was stopped)
  2    the batch failed validation (its errors are printed); nothing ran
  3    the batch ended with failed lines (the top reasons and the error file are printed)
  4    the batch was cancelled or expired
  5    the pilot check paused the batch (too many answers broke their schema): resume or cancel it
  130  detached with Ctrl-C; the batch goes on`;

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

/**
 * Without a terminal (a log, a CI job), a progress line only once both this long and 1% of the
 * batch have passed since the last one, plus every status change. The environment variable is
 * for tests, which cannot wait 30 s.
 */
const quietIntervalMs = (): number => Number(process.env.OLLAMA_BATCH_PROGRESS_INTERVAL_MS) || 30_000;

/** The progress of one batch on stderr: a live bar on a terminal, paced lines elsewhere, nothing with --json. */
class ProgressDisplay {
  // The bar goes to stderr, so it shows on a terminal even when stdout carries --json.
  private readonly tty = process.stderr.isTTY;
  private readonly bar = new SingleBar({
    // `timeLeft`, not `eta`: cli-progress fills `{eta}` itself, in raw seconds.
    format: '{bar} {done}/{total} | {rate} req/s | ETA {timeLeft} | {failed} failed {note}',
    hideCursor: true,
    barsize: 30,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
  });
  private readonly pace = new Pace();
  private readonly interval = quietIntervalMs();
  private barStarted = false;
  private lastState = '';
  private lastLine = { at: 0, done: 0 };

  constructor(private readonly json: boolean) {}

  show(batch: Batch): void {
    const { total, completed, failed } = batch.request_counts;
    const done = completed + failed;
    const rate = this.pace.rate(done);
    const timeLeft = formatEta(rate > 0 ? (total - done) / rate : Infinity);
    const note = batch.paused_reason
      ? `(paused: ${batch.paused_reason})`
      : batch.status === 'in_progress'
        ? ''
        : `(${statusText(batch)})`;
    const state = `${batch.status} ${batch.paused_reason ?? ''}`;
    const changed = state !== this.lastState;
    this.lastState = state;
    if (this.json) return;
    if (this.tty && batch.status !== 'validating') {
      const payload = { done, rate: rate.toFixed(1), timeLeft, failed, note };
      if (!this.barStarted) this.bar.start(total, done, payload);
      else this.bar.update(done, payload);
      this.barStarted = true;
    } else if (!this.tty || changed) {
      const now = Date.now();
      const step = Math.max(1, Math.ceil(total / 100));
      if (!changed && (now - this.lastLine.at < this.interval || done - this.lastLine.done < step)) return;
      this.lastLine = { at: now, done };
      if (batch.status === 'validating') return console.error(`${batch.id} validating…`);
      const percent = total > 0 ? ` (${Math.floor((done * 100) / total)}%)` : '';
      console.error(
        `${batch.id} ${batch.status} ${count(done)}/${count(total)}${percent} | ${rate.toFixed(1)} req/s | ETA ${timeLeft} | ${count(failed)} failed ${note}`.trimEnd(),
      );
    }
  }

  /** Ends the bar's line before a line of its own (the daemon stopped) or the result; show() starts it again. */
  stop(): void {
    if (this.barStarted) this.bar.stop();
    this.barStarted = false;
  }
}

/** How watching ended: the batch ended (or waits for a resume), the daemon said it stops on purpose, or the connection closed unannounced. */
type Watched = { ended: Batch } | { stopping: string } | { closed: true };

/** Shows the batch's progress on one connection until the batch ends or the daemon goes. */
function watch(connection: MessageConnection, id: string, display: ProgressDisplay): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const show = (batch: Batch): void => {
      if (batch.id !== id) return;
      display.show(batch);
      if (TERMINAL_STATUSES.includes(batch.status) || waitsForResume(batch)) resolve({ ended: batch });
    };
    connection.onNotification(protocol.BatchChangedNotification.type, show);
    // Said before it closes: no need to wait for a stopping daemon's last in-flight answers.
    connection.onNotification(protocol.DaemonStoppingNotification.type, ({ reason }) => resolve({ stopping: reason }));
    connection.onClose(() => resolve({ closed: true }));
    // The batch may have moved on before the subscription: ask once. No answer: the daemon
    // refused, or the connection failed before onClose was listened to (the daemon died at once)
    // or without closing yet (a socket to a daemon being killed takes the request, then EPIPE).
    connection.sendRequest(protocol.BatchGetRequest.type, { id }).then(show, (error: unknown) => {
      if (isDaemonRefusal(error)) reject(new CliError(error.message));
      else resolve({ closed: true });
    });
  });
}

export interface FollowOptions {
  dataDir: string;
  json: boolean;
  /** Starts the daemon again (or finds the one another client started) after it died. */
  reconnect: () => Promise<MessageConnection>;
  /** false: return the exit code without printing the result (a caller that reports on its own). */
  printResult?: boolean;
}

/** Follows the batch to its end, prints the result, and returns the exit code (EXIT). */
export async function followBatch(
  connection: MessageConnection,
  first: Batch,
  options: FollowOptions,
): Promise<number> {
  const { dataDir, json } = options;
  const followHint = hint(dataDir, `follow ${first.id}`);
  process.once('SIGINT', () => {
    console.error(`\ndetached; batch ${first.id} goes on. Follow it again with: ${followHint}`);
    process.exit(EXIT.detached);
  });
  const display = new ProgressDisplay(json);
  display.show(first);
  let current = connection;
  try {
    for (;;) {
      const watched = await watch(current, first.id, display);
      display.stop();
      if ('ended' in watched)
        return options.printResult === false
          ? exitCodeOf(watched.ended)
          : await report(current, watched.ended, json, dataDir);
      current.dispose();
      if ('stopping' in watched) {
        console.error(
          `the daemon was stopped (${watched.stopping}); batch ${first.id} goes on at its next start. Follow it then with: ${followHint}`,
        );
        return EXIT.commandFailed;
      }
      console.error(`the daemon stopped (its connection closed); restarting it to follow batch ${first.id}`);
      try {
        current = await options.reconnect();
      } catch (error) {
        console.error(
          `could not restart the daemon: ${(error as Error).message}; start it with ${hint(dataDir, 'serve')}, then: ${followHint}`,
        );
        return EXIT.commandFailed;
      }
    }
  } finally {
    display.stop(); // the bar hides the cursor until stopped
    current.dispose();
  }
}

/** Prints how the batch ended (its files, its errors, why lines failed) and returns its exit code. */
async function report(connection: MessageConnection, batch: Batch, json: boolean, dataDir: string): Promise<number> {
  const [output, error] = await Promise.all(
    [batch.output_file_id, batch.error_file_id].map(async (id) =>
      id ? (await call(() => connection.sendRequest(protocol.FileGetRequest.type, { id }))).path : undefined,
    ),
  );
  const reasons = batch.request_counts.failed > 0 && error ? await failureReasons(error) : [];
  if (json) {
    console.log(
      JSON.stringify(
        { batch, output_path: output ?? null, error_path: error ?? null, failure_reasons: reasons },
        null,
        2,
      ),
    );
  } else {
    console.log(batchDetails(batch, { output, error }));
    if (reasons.length > 0) {
      console.log(`${count(batch.request_counts.failed)} lines failed; the top reasons:`);
      for (const { message, count: times } of reasons) console.log(`  ${count(times).padStart(7)} × ${message}`);
      console.log(`every failed line is in ${error}`);
    }
  }
  if (waitsForResume(batch))
    console.error(
      `batch ${batch.id} is paused: ${batch.paused_reason}\nresume it with: ${hint(dataDir, `resume ${batch.id}`)}; or cancel it with: ${hint(dataDir, `cancel ${batch.id}`)}`,
    );
  return exitCodeOf(batch);
}

export function exitCodeOf(batch: Batch): number {
  if (waitsForResume(batch)) return EXIT.paused;
  switch (batch.status) {
    case 'completed':
      return batch.request_counts.failed > 0 ? EXIT.linesFailed : EXIT.completed;
    case 'failed':
      return EXIT.batchFailed;
    default:
      return EXIT.cancelledOrExpired;
  }
}

const TOP_REASONS = 5;

/** The error file's messages (the engine's answer, else the daemon's own error), most frequent first. */
async function failureReasons(path: string): Promise<Array<{ message: string; count: number }>> {
  const counts = new Map<string, number>();
  for await (const line of readLines(path)) {
    if (!line.bytes) continue;
    let message: string;
    try {
      const parsed = JSON.parse(line.bytes.toString('utf8')) as {
        error?: { message?: string } | null;
        response?: { body?: { error?: { message?: string } } } | null;
      };
      message = parsed.response?.body?.error?.message ?? parsed.error?.message ?? 'no message';
    } catch {
      message = 'an unreadable error line';
    }
    counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP_REASONS)
    .map(([message, times]) => ({ message, count: times }));
}

// The pilot check on the real daemon, against the Ollama emulator: a batch whose first answers
// break their schema pauses and says why; resumed, it completes with every line sent and written
// exactly once; cancelled, it ends; killed with -9 while paused, it is still paused after the
// restart (not checked again, not run) and still resumable. And the retry of invalid answers.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchOutputLine, ChatCompletion } from '../../server/openai/types.js';
import * as protocol from '../../server/protocol/methods.js';
import type { Batch } from '../../server/protocol/openai.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import {
  filePath,
  isFinished,
  startDaemonProcess,
  submit,
  waitForBatch,
  type DaemonProcess,
} from '../support/daemon-process.js';
import { startOllamaEmulator, type EmulatorOptions, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertErrorLine, assertExactlyOnce, assertSuccessLine, readJsonl } from '../support/shapes.js';

const LINES = 200;
const CONCURRENCY = 4;
const ids = Array.from({ length: LINES }, (_, index) => `req-${index + 1}`);
const SCHEMA = {
  type: 'object',
  properties: { score: { type: 'integer', minimum: 0, maximum: 100 } },
  required: ['score'],
};
/** What an engine that ignores the schema's bounds answers. */
const OUT_OF_RANGE = '{"score":150}';
const IN_RANGE = '{"score":42}';

const isPilotPause = (batch: Batch): boolean => batch.paused_reason?.startsWith('pilot check:') ?? false;
const contentOf = (line: BatchOutputLine): string | null =>
  (line.response!.body as ChatCompletion).choices[0]!.message.content;

describe('the pilot check', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator | undefined;
  let daemon: DaemonProcess | undefined;
  let dataDir: string;
  let args: string[];

  afterEach(async () => {
    await daemon?.stop();
    await emulator?.close();
    daemon = emulator = undefined;
  });

  async function start(instantContent: EmulatorOptions['instantContent']): Promise<void> {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: CONCURRENCY, instantContent });
    dataDir = tempDir();
    args = ['--ollama-url', emulator.url, '--concurrency', String(CONCURRENCY)];
    daemon = await startDaemonProcess(dataDir, args);
  }

  /** A batch of `lines` requests for answers in SCHEMA (null: for text). */
  async function submitLines(
    metadata?: Record<string, string>,
    lines = LINES,
    schema: Record<string, unknown> | null = SCHEMA,
  ): Promise<string> {
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(lines, { model: 'tiny', ...(schema && { schema }) }));
    return (await submit(daemon!.connection, input, '24h', metadata)).id;
  }

  /** The batch once the pilot check paused it and the lines in flight then are written. */
  async function pausedAndDrained(id: string): Promise<Batch> {
    const paused = await waitForBatch(daemon!.connection, id, isPilotPause);
    assert.equal(paused.status, 'in_progress');
    // Every answer the emulator gave but the token-count probe is written: nothing is in flight.
    return waitForBatch(
      daemon!.connection,
      id,
      (batch) =>
        isPilotPause(batch) &&
        emulator!.stats.inFlight === 0 &&
        batch.request_counts.completed === emulator!.stats.completed - 1,
    );
  }

  async function finish(id: string) {
    const batch = await waitForBatch(daemon!.connection, id, isFinished);
    const files = assertExactlyOnce(
      ids,
      await filePath(daemon!.connection, batch.output_file_id),
      await filePath(daemon!.connection, batch.error_file_id),
      batch,
    );
    return { batch, ...files };
  }

  it('pauses a batch whose answers break the schema and says why; resumed, it sends and writes every line once', async () => {
    await start(OUT_OF_RANGE);
    const id = await submitLines();
    const paused = await pausedAndDrained(id);
    assert.equal(
      paused.paused_reason,
      'pilot check: 50 of 50 answers break their schema (most often: score must be <= 100; at most 20% may): fix the rubric or the schema, then resume or cancel the batch',
    );
    const { http } = await daemon!.connection.sendRequest(protocol.DaemonStatusRequest.type);
    assert.match(await (await fetch(`${http}/metrics`)).text(), /^ollama_batch_paused\{reason="pilot_check"\} 1$/m);
    const done = paused.request_counts.completed;
    assert.ok(done >= 50 && done <= 50 + CONCURRENCY, `the pilot's answers and those in flight (${done})`);
    assert.ok(done < LINES, 'the rest waits');

    const resumed = await daemon!.connection.sendRequest(protocol.BatchResumeRequest.type, { id });
    assert.equal(resumed.paused_reason, null);
    const { batch, output, errors } = await finish(id);
    assert.equal(batch.status, 'completed', 'the override holds: no second pause');
    assert.equal(errors.length, 0);
    output.forEach(assertSuccessLine);
    // Invalid answers are written as the engine gave them (the analysis marks them invalid).
    assert.ok(output.every((line) => contentOf(line) === OUT_OF_RANGE));
    // One chat per line and the token-count probe: no line in flight at the pause was sent again, none retried.
    assert.equal(emulator!.stats.chats, LINES + 1);
    // A resume of a batch that is not paused is refused, with why.
    await assert.rejects(
      daemon!.connection.sendRequest(protocol.BatchResumeRequest.type, { id }),
      /is completed, not paused by the pilot check/,
    );
  });

  it('passes a batch whose invalid answers stay under the limit, once', async () => {
    // Every fourth line is out of range: 25% of the pilot's answers with a limit of 30%.
    await start((request) => (request.seed! % 4 === 0 ? OUT_OF_RANGE : IN_RANGE));
    const id = await submitLines({ pilot_max_invalid: '0.3' });
    const { batch } = await finish(id);
    assert.equal(batch.status, 'completed');
    const verdicts = daemon!.log().match(new RegExp(`${id}: pilot check passed \\(\\d+ of 50 answers invalid\\)`, 'g'));
    assert.equal(verdicts?.length, 1, 'one verdict, after the first 50 answers');
  });

  it('cancels a paused batch: the answered lines stay, the rest get batch_cancelled', async () => {
    await start(OUT_OF_RANGE);
    const id = await submitLines();
    const paused = await pausedAndDrained(id);
    await daemon!.connection.sendRequest(protocol.BatchCancelRequest.type, { id });
    const { batch, output, errors } = await finish(id);
    assert.equal(batch.status, 'cancelled');
    assert.equal(batch.paused_reason, null);
    assert.equal(output.length, paused.request_counts.completed);
    assert.equal(errors.length, LINES - output.length);
    errors.forEach(assertErrorLine);
    assert.ok(errors.every((line) => line.error?.code === 'batch_cancelled'));
  });

  it('keeps a batch paused across a kill -9 and a restart, passed over by the queue, and resumable', async () => {
    await start(OUT_OF_RANGE);
    const id = await submitLines();
    const paused = await pausedAndDrained(id);
    await daemon!.kill9();
    daemon = await startDaemonProcess(dataDir, args);
    const restarted = await daemon.connection.sendRequest(protocol.BatchGetRequest.type, { id });
    assert.equal(restarted.status, 'in_progress');
    assert.equal(restarted.paused_reason, paused.paused_reason);
    // A batch submitted after it runs to its end while it waits: the queue passed it over.
    const other = await submitLines(undefined, 20, null);
    assert.equal((await waitForBatch(daemon.connection, other, isFinished)).status, 'completed');
    const still = await daemon.connection.sendRequest(protocol.BatchGetRequest.type, { id });
    assert.deepEqual(still.request_counts, paused.request_counts);
    assert.equal(still.paused_reason, paused.paused_reason, 'not checked again after the restart');
    const outputPath = await filePath(daemon.connection, still.output_file_id!);
    assert.equal(readJsonl(outputPath).length, paused.request_counts.completed);

    await daemon.connection.sendRequest(protocol.BatchResumeRequest.type, { id });
    const { batch, errors } = await finish(id);
    assert.equal(batch.status, 'completed');
    assert.equal(errors.length, 0);
  });

  it('retries an invalid answer once where the batch asks: a new sample, kept whether valid or not', async () => {
    // Greedy answers (temperature 0) break the schema; the retry's sample does, but for seeds ending in 1.
    await start((request) => (request.temperature === 0 || request.seed! % 10 === 1 ? OUT_OF_RANGE : IN_RANGE));
    const id = await submitLines({ retry_invalid: 'true' });
    const { batch, output } = await finish(id);
    assert.equal(batch.status, 'completed', 'the kept answers are 10% invalid: the pilot check passes');
    for (const line of output) {
      assertSuccessLine(line);
      const index = Number(line.custom_id.slice('req-'.length));
      assert.deepEqual(line.ollama_batch?.retried, {
        reason: 'score must be <= 100',
        temperature: 0.7,
        seed: index + 1,
      });
      assert.equal(contentOf(line), index % 10 === 0 ? OUT_OF_RANGE : IN_RANGE, line.custom_id);
    }
    // Each line twice (the answer and its retry), never a third time, and the token-count probe.
    assert.equal(emulator!.stats.chats, 2 * LINES + 1);
  });
});

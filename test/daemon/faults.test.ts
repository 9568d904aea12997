// Engine faults injected by the emulator: transient ones are retried, permanent ones become
// error lines at once, and an engine that goes down pauses the batch until it is back. Answers
// that are no answers (`{}`, a proxy's HTML page) are faults too, never output lines.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchOutputLine, ChatCompletion } from '../../server/openai/types.js';
import type { EmulatorFault } from '../support/ollama-emulator/server.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import {
  filePath,
  isFinished,
  startDaemonProcess,
  submit,
  waitForBatch,
  type DaemonProcess,
} from '../support/daemon-process.js';
import { assertErrorLine, assertExactlyOnce, assertSuccessLine } from '../support/shapes.js';

const LINES = 120;
const ids = Array.from({ length: LINES }, (_, index) => `req-${index + 1}`);

describe('engine faults', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator | undefined;
  let daemon: DaemonProcess | undefined;

  afterEach(async () => {
    await daemon?.stop();
    await emulator?.close();
    daemon = emulator = undefined;
  });

  async function runBatch(model = 'tiny') {
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(LINES, { model }));
    const { id } = await submit(daemon!.connection, input);
    return id;
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

  /** A daemon whose requests get `maxAttempts` tries each (at most 16 in flight unless `args` say). */
  async function startDaemonTrying(maxAttempts: number, args = ['--concurrency', '16']) {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ maxAttempts }));
    return startDaemonProcess(dataDir, ['--ollama-url', emulator!.url, ...args]);
  }

  /** The code, message and status of an error line, whichever of its two shapes it has. */
  function errorOf(line: BatchOutputLine): { code: string; message: string; status?: number } {
    if (line.error) return line.error;
    const { error } = line.response!.body as { error: { code: string; message: string } };
    return { ...error, status: line.response!.status_code };
  }

  for (const fault of ['500', 'reset', '503', 'timeout', 'oom', 'empty', 'html'] as EmulatorFault[]) {
    it(`retries ${fault} faults (a fifth of all requests) and completes every line with a real answer`, async () => {
      emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 4, fault, faultRate: 0.2 });
      // A short request timeout only where the fault is a hang: elsewhere, on a loaded machine, an
      // answer slower than it is a fault the test did not ask for.
      const timeout = fault === 'timeout' ? ['--request-timeout-ms', '1500'] : [];
      // Faults are drawn at random: with the default 6 tries, one line of 120 runs out of them
      // in about 1 run of 130 (120 × 0.2^6). With 12 it is 1 in 3 million.
      daemon = await startDaemonTrying(12, timeout);
      const { batch, errors, output } = await finish(await runBatch());
      assert.equal(batch.status, 'completed');
      assert.equal(errors.length, 0, 'every transient fault was retried to success');
      for (const line of output) {
        assertSuccessLine(line);
        assert.notEqual(
          (line.response!.body as ChatCompletion).choices[0]!.message.content,
          '',
          `${line.custom_id} has the answer's text`,
        );
      }
      assert.ok(emulator.stats.faults > 5, `faults were injected (${emulator.stats.faults})`);
    });
  }

  it('writes an error line for an answer without a message only when its tries run out', async () => {
    emulator = await startOllamaEmulator({
      instant: true,
      models: ['tiny'],
      parallel: 16,
      fault: 'empty',
      faultRate: 1,
    });
    daemon = await startDaemonTrying(2);
    const { batch, errors, output } = await finish(await runBatch());
    assert.equal(batch.status, 'completed');
    assert.equal(output.length, 0);
    assert.equal(errors.length, LINES);
    for (const line of errors) {
      assertErrorLine(line);
      const error = errorOf(line);
      assert.equal(error.code, 'server_error');
      assert.equal(error.message, 'invalid engine answer: no message');
    }
    // Two tries per line, and the probe that learns the model's token counts.
    assert.equal(emulator.stats.chats, 2 * LINES + 1);
  });

  it('names an HTML page for what it is: its status and title, not a connection error', async () => {
    emulator = await startOllamaEmulator({
      instant: true,
      models: ['tiny'],
      parallel: 16,
      fault: 'html',
      faultRate: 1,
    });
    daemon = await startDaemonTrying(1);
    const { errors } = await finish(await runBatch());
    assert.equal(errors.length, LINES);
    const statuses = new Set<number>();
    for (const line of errors) {
      assertErrorLine(line);
      const error = errorOf(line);
      assert.equal(error.code, 'server_error');
      const page = /^invalid engine answer: an HTML page \(status (\d+)\), not JSON: "(.*)"$/.exec(error.message);
      assert.ok(page, error.message);
      statuses.add(Number(page[1]));
      // A 502 is the error line's status; a 200 page is no status of an error.
      assert.equal(error.status, page[1] === '200' ? undefined : 502);
      assert.equal(page[2], page[1] === '200' ? 'Sign in to the guest network' : '502 Bad Gateway');
    }
    assert.deepEqual([...statuses].sort(), [200, 502], 'the emulator answers 502 and 200 pages by turns');
  });

  it('fails no batch for an engine down at validation; a model it lacks is then an error line per line, not retried', async () => {
    // A port nothing listens on: the daemon cannot ask which models the engine has.
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
    const port = emulator.port;
    await emulator.close();
    daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url]);
    const id = await runBatch('no-such-model');
    const paused = await waitForBatch(daemon.connection, id, (batch) => batch.paused_reason !== null);
    assert.equal(paused.status, 'in_progress', 'validated without the engine, and waiting for it');
    assert.match(paused.paused_reason!, /engine unreachable/);
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], port });
    const { batch, errors, output } = await finish(id);
    assert.equal(batch.status, 'completed');
    assert.equal(output.length, 0);
    assert.equal(errors.length, LINES);
    errors.forEach(assertErrorLine);
    assert.equal(errors[0]!.response!.status_code, 404);
    assert.equal((errors[0]!.response!.body as any).error.code, 'model_not_found');
    // One try per line (the probe that learns the model's token counts went while the engine was down).
    assert.equal(emulator.stats.chats, LINES, 'one try per line');
    // With the engine up, the same file fails while it validates, and nothing is sent.
    const checked = await waitForBatch(daemon.connection, await runBatch('no-such-model'), isFinished);
    assert.equal(checked.status, 'failed');
    assert.equal(checked.errors?.data[0]?.code, 'model_not_found');
    assert.equal(emulator.stats.chats, LINES);
  });

  it('pauses while the engine is down and goes on by itself when it is back', async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 2, latencyMs: 10 });
    const port = emulator.port;
    daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url, '--concurrency', '2']);
    const id = await runBatch();
    await waitForBatch(daemon.connection, id, (batch) => batch.request_counts.completed >= 20);
    await emulator.close();
    const paused = await waitForBatch(daemon.connection, id, (batch) => batch.paused_reason !== null);
    assert.equal(paused.status, 'in_progress');
    assert.match(paused.paused_reason!, /engine unreachable/);
    const before = paused.request_counts.completed + paused.request_counts.failed;
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 2, port });
    const resumed = await waitForBatch(daemon.connection, id, (batch) => batch.paused_reason === null);
    assert.ok(resumed.request_counts.failed === 0 && before < LINES);
    const { batch, errors } = await finish(id);
    assert.equal(batch.status, 'completed');
    assert.equal(errors.length, 0, 'the outage failed no line');
  });
});

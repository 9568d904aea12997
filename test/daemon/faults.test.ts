// Engine faults injected by the emulator: transient ones are retried, permanent ones become
// error lines at once, and an engine that goes down pauses the batch until it is back.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmulatorFault } from '../support/ollama-emulator/server.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import { filePath, isFinished, startDaemonProcess, submit, waitForBatch, type DaemonProcess } from '../support/daemon-process.js';
import { assertErrorLine, assertExactlyOnce } from '../support/shapes.js';

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
    const files = assertExactlyOnce(ids, await filePath(daemon!.connection, batch.output_file_id!), await filePath(daemon!.connection, batch.error_file_id!), batch);
    return { batch, ...files };
  }

  for (const fault of ['500', 'reset', '503', 'timeout', 'oom'] as EmulatorFault[]) {
    it(`retries ${fault} faults (a fifth of all requests) and completes every line`, async () => {
      emulator = await startOllamaEmulator({ instant: true, parallel: 4, fault, faultRate: 0.2 });
      daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url, '--request-timeout-ms', '300']);
      const { batch, errors } = await finish(await runBatch());
      assert.equal(batch.status, 'completed');
      assert.equal(errors.length, 0, 'every transient fault was retried to success');
      assert.ok(emulator.stats.faults > 5, `faults were injected (${emulator.stats.faults})`);
    });
  }

  it('writes an error line at once for a permanent fault (unknown model), without retrying', async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
    daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url]);
    const { batch, errors, output } = await finish(await runBatch('no-such-model'));
    assert.equal(batch.status, 'completed');
    assert.equal(output.length, 0);
    assert.equal(errors.length, LINES);
    errors.forEach(assertErrorLine);
    assert.equal(errors[0]!.response!.status_code, 404);
    assert.equal((errors[0]!.response!.body as any).error.code, 'model_not_found');
    // One try per line, and one first to learn the model's token counts (a new model).
    assert.equal(emulator.stats.chats, LINES + 1, 'one try per line, plus the calibration probe');
  });

  it('pauses while the engine is down and goes on by itself when it is back', async () => {
    emulator = await startOllamaEmulator({ instant: true, parallel: 2, latencyMs: 10 });
    const port = emulator.port;
    daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url, '--concurrency', '2']);
    const id = await runBatch();
    await waitForBatch(daemon.connection, id, (batch) => batch.request_counts.completed >= 20);
    await emulator.close();
    const paused = await waitForBatch(daemon.connection, id, (batch) => batch.paused_reason !== null);
    assert.equal(paused.status, 'in_progress');
    assert.match(paused.paused_reason!, /engine unreachable/);
    const before = paused.request_counts.completed + paused.request_counts.failed;
    emulator = await startOllamaEmulator({ instant: true, parallel: 2, port });
    const resumed = await waitForBatch(daemon.connection, id, (batch) => batch.paused_reason === null);
    assert.ok(resumed.request_counts.failed === 0 && before < LINES);
    const { batch, errors } = await finish(id);
    assert.equal(batch.status, 'completed');
    assert.equal(errors.length, 0, 'the outage failed no line');
  });
});

// Context windows and memory on real batches: conversations over a small num_ctx are trimmed so
// that the engine never cuts one (real inference, its own token counts), a request that cannot
// fit becomes context_length_exceeded; out-of-memory answers and VRAM pressure lower the limits,
// answers without running out of memory raise them back, the batch still completes every line,
// and the most that held is learned for the next batch.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchOutputLine, ChatCompletion } from '../../server/openai/types.js';
import type { ChatMessage } from '../../server/protocol/openai.js';
import * as protocol from '../../server/protocol/methods.js';
import type { StoreData } from '../../server/store/store.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import {
  filePath,
  isFinished,
  startDaemonProcess,
  submit,
  waitForBatch,
  type DaemonProcess,
} from '../support/daemon-process.js';
import { FakeNvidiaSmi } from '../support/fake-nvidia-smi.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertExactlyOnce } from '../support/shapes.js';
import { startTinyEmulator } from '../support/tiny-emulator.js';

const words = (count: number, seed: number): string =>
  Array.from(
    { length: count },
    (_, i) => ['payments', 'latency', 'kafka', 'team', 'rust', 'scaled'][(i * 7 + seed) % 6],
  ).join(' ');

function conversationLine(index: number, turns: number): string {
  const messages: ChatMessage[] = [{ role: 'system', content: 'You are a terse reviewer.' }];
  for (let turn = 0; turn < turns; turn++) {
    messages.push(
      { role: 'user', content: `note ${turn}: ${words(18, turn)}` },
      { role: 'assistant', content: `ok ${turn}: ${words(6, turn)}` },
    );
  }
  messages.push({ role: 'user', content: `final ${index}: ${words(12, index)}` });
  return JSON.stringify({
    custom_id: `conv-${index}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'tiny', messages, max_tokens: 8, temperature: 0 },
  });
}

const NUM_CTX = 1024;

describe('context windows and memory', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator | undefined;
  let daemon: DaemonProcess | undefined;
  let fake: FakeNvidiaSmi | undefined;

  afterEach(async () => {
    await daemon?.stop();
    await emulator?.close();
    await fake?.remove();
    daemon = emulator = fake = undefined;
  });

  it('trims conversations so the engine never cuts one, and refuses the one that cannot fit', async () => {
    emulator = await startTinyEmulator();
    const dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, [
      '--ollama-url',
      emulator.url,
      '--num-ctx',
      String(NUM_CTX),
      '--concurrency',
      '2',
    ]);
    const turns = [0, 1, 2, 4, 8, 12, 16, 24, 3, 20];
    const impossible = JSON.stringify({
      custom_id: 'too-long',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'tiny', messages: [{ role: 'user', content: words(600, 1) }], max_tokens: 8 },
    });
    const input = join(tempDir(), 'conversations.jsonl');
    writeFileSync(
      input,
      [...turns.map((count, index) => conversationLine(index, count)), impossible].join('\n') + '\n',
    );
    const announced: string[] = [];
    daemon.connection.onNotification(protocol.BatchMetricsNotification.type, ({ id }) => void announced.push(id));
    const created = await submit(daemon.connection, input);
    const batch = await waitForBatch(daemon.connection, created.id, isFinished);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    const ids = [...turns.map((_, index) => `conv-${index}`), 'too-long'];
    const { output, errors } = assertExactlyOnce(
      ids,
      await filePath(daemon.connection, batch.output_file_id),
      await filePath(daemon.connection, batch.error_file_id),
      batch,
    );

    // The engine's own counts: no prompt and answer passed num_ctx, none was cut.
    assert.equal(output.length, turns.length);
    for (const line of output) {
      const { usage } = line.response!.body as ChatCompletion;
      assert.ok(
        usage.prompt_tokens + usage.completion_tokens <= NUM_CTX,
        `${line.custom_id}: ${usage.prompt_tokens} + ${usage.completion_tokens} tokens`,
      );
    }
    assert.equal(emulator.stats.overflows, 0, 'the engine never had to cut a prompt');

    // Long conversations were trimmed, and it says so on their lines; short ones were sent whole.
    const trimOf = (id: string): BatchOutputLine['ollama_batch'] =>
      output.find((line) => line.custom_id === id)!.ollama_batch;
    assert.equal(trimOf('conv-0')!.trim, undefined);
    const longest = trimOf(`conv-${turns.indexOf(24)}`)!.trim!;
    assert.equal(longest.strategy, 'sliding-window');
    assert.ok(longest.dropped > 0 && longest.tokens_after < longest.tokens_before && longest.tokens_after <= NUM_CTX);

    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.custom_id, 'too-long');
    assert.equal(errors[0]!.response!.status_code, 400);
    const error = (errors[0]!.response!.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'context_length_exceeded');
    assert.match(
      error.message,
      /the prompt needs about \d+ tokens and the answer 8 more; the context window \(num_ctx\) is 1024/,
    );

    // The batch's metrics say the same, live on request, in its time series and on /metrics.
    const { snapshot, series } = await daemon.connection.sendRequest(protocol.BatchMetricsRequest.type, {
      id: batch.id,
      series: true,
    });
    const trimmed = output.filter((line) => line.ollama_batch!.trim).length;
    assert.ok(trimmed >= 2);
    assert.deepEqual(snapshot.context.trims.byStrategy, { 'sliding-window': trimmed });
    assert.equal(snapshot.context.numCtx, NUM_CTX);
    assert.ok(snapshot.context.peak! <= NUM_CTX && snapshot.context.utilisation! <= 1);
    assert.equal(snapshot.errors.byClass.context, 1);
    assert.equal(snapshot.tokens.prompt, batch.usage.input_tokens);
    assert.ok(snapshot.performance.latencyMs.p50! > 0);
    assert.ok(series!.length >= 1 && series!.at(-1)!.done === ids.length, 'the last sample has every line done');
    assert.ok(announced.includes(batch.id), 'metrics were announced while it ran');
    const { http } = await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type);
    const prometheus = await (await fetch(`${http}/metrics`)).text();
    assert.match(prometheus, new RegExp(`ollama_batch_trims_total\\{strategy="sliding-window"\\} ${trimmed}\\n`));
    assert.match(prometheus, /ollama_batch_errors_total\{class="context"\} 1\n/);

    // The model's calibration was learned (the tiny model's tokenizer counts about 2.7× o200k) and kept.
    const store = JSON.parse(readFileSync(join(dataDir, 'db.json'), 'utf8')) as StoreData;
    const calibration = store.models.tiny!.calibration!;
    assert.ok(calibration.mean > 2 && calibration.mean < 3.5, `calibration ${calibration.mean}`);
  });

  it('runs conversation mode: requests join one growing conversation, trimmed before it passes num_ctx', async () => {
    emulator = await startTinyEmulator();
    daemon = await startDaemonProcess(tempDir(), [
      '--ollama-url',
      emulator.url,
      '--num-ctx',
      String(NUM_CTX),
      '--concurrency',
      '1',
      '--mode',
      'conversation',
    ]);
    const lines = 30;
    const created = await submit(daemon.connection, writeInput(batchLines(lines, { model: 'tiny', maxTokens: 8 })));
    const batch = await waitForBatch(daemon.connection, created.id, isFinished);
    assert.equal(batch.status, 'completed');
    const ids = Array.from({ length: lines }, (_, index) => `req-${index + 1}`);
    const { output } = assertExactlyOnce(
      ids,
      await filePath(daemon.connection, batch.output_file_id),
      await filePath(daemon.connection, batch.error_file_id),
      batch,
    );
    const promptTokens = output.map((line) => (line.response!.body as ChatCompletion).usage.prompt_tokens);
    assert.ok(promptTokens[5]! > promptTokens[0]! * 2, `the conversation grows: ${promptTokens.join(' ')}`);
    assert.ok(
      output.some((line) => line.ollama_batch!.trim),
      'and is trimmed now and then',
    );
    assert.ok(Math.max(...promptTokens) <= NUM_CTX);
    assert.equal(emulator.stats.overflows, 0);
  });

  it('lowers concurrency after out-of-memory answers and under VRAM pressure, raises it back as far as memory allows, completes every line, and keeps the most that held', async () => {
    fake = await FakeNvidiaSmi.create();
    await fake.show([[15_600, 16_376]]); // 95%: above the warning level
    // Memory for 3 requests at once; answers slow enough that the daemon's slots all overlap there.
    const room = 3;
    emulator = await startOllamaEmulator({
      instant: true,
      parallel: 8,
      latencyMs: 20,
      outOfMemoryAbove: room,
      models: ['tiny'],
    });
    const dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, [
      '--ollama-url',
      emulator.url,
      '--concurrency',
      '8',
      '--nvidia-smi-path',
      fake.path,
      '--vram-poll-ms',
      '20',
    ]);
    const lines = 150;
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(lines, { model: 'tiny' }));
    const created = await submit(daemon.connection, input);
    const batch = await waitForBatch(daemon.connection, created.id, isFinished);
    assert.equal(batch.status, 'completed');
    const ids = Array.from({ length: lines }, (_, index) => `req-${index + 1}`);
    const { errors } = assertExactlyOnce(
      ids,
      await filePath(daemon.connection, batch.output_file_id),
      await filePath(daemon.connection, batch.error_file_id),
      batch,
    );
    assert.equal(errors.length, 0, 'every out-of-memory answer was retried to success');
    const log = daemon.log();
    assert.match(log, /VRAM pressure warning: GPU 0 .*: 95% of VRAM in use/);
    // 8 halved to 4 by the pressure, 4 ran out of memory: halved to 2, then up one at a time to 3,
    // and 4 tried again after a longer run of answers.
    assert.match(log, /VRAM warning: aggressive trimming, concurrency halved \(concurrency 4,/);
    assert.match(log, /out of memory: concurrency halved \(concurrency 2,/);
    assert.match(log, /recovered after 20 answers without running out of memory: concurrency raised \(concurrency 3,/);
    assert.match(log, /out of memory at concurrency 4: back to 3, the most that held \(concurrency 3,/);
    assert.ok(emulator.stats.faults >= 2, `out-of-memory answers: ${emulator.stats.faults}`);

    const store = JSON.parse(readFileSync(join(dataDir, 'db.json'), 'utf8')) as StoreData;
    const learned = store.models.tiny!.limits!['NVIDIA GeForce RTX 4080']!;
    assert.equal(learned.concurrency, room, 'the most that held, not the least it fell to');
    assert.equal(learned.vramMiB, Math.floor(15_600 * 0.9), '90% of the VRAM it peaked at');
    const { snapshot } = await daemon.connection.sendRequest(protocol.BatchMetricsRequest.type, { id: batch.id });
    assert.equal(snapshot.errors.total, 0);
    assert.ok(snapshot.errors.retriesByClass.oom > 0 && snapshot.errors.retriesByClass.oom <= emulator.stats.faults);
    assert.ok(snapshot.adjustments.some((adjustment) => adjustment.reason === 'out of memory: concurrency halved'));
    assert.equal(snapshot.vram?.usedMiB, 15_600);

    // The next batch of this model on this GPU starts at what held, not at 8, and never runs out
    // of memory. Learned limits are kept per GPU name: the daemon must have read the new reading
    // whole (the fake rewrites its file in place) before the batch looks them up.
    await fake.show([[4_000, 16_376]]);
    await untilGpuReading(daemon, 4_000);
    const faultsBefore = emulator.stats.faults;
    const second = await submit(daemon.connection, writeInput(batchLines(60, { model: 'tiny', prefix: 'again' })));
    assert.equal((await waitForBatch(daemon.connection, second.id, isFinished)).status, 'completed');
    const started = (JSON.parse(readFileSync(join(dataDir, 'db.json'), 'utf8')) as StoreData).models.tiny!.concurrency;
    assert.equal(started, room, 'the second batch ran at the learned concurrency');
    assert.equal(emulator.stats.faults, faultsBefore, 'and never ran out of memory');
  });
});

/** Asks the daemon until its latest GPU reading shows `usedMiB` in use (it reads every --vram-poll-ms; no event tells). */
async function untilGpuReading(daemon: DaemonProcess, usedMiB: number): Promise<void> {
  for (;;) {
    const { gpu } = await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type);
    if (gpu?.gpus?.[0]?.usedMiB === usedMiB) return;
  }
}

function writeInput(text: string): string {
  const path = join(tempDir(), 'input.jsonl');
  writeFileSync(path, text);
  return path;
}

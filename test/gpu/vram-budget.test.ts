// num_ctx within what the GPUs hold: the KV cache per token from the model's own description
// (/api/show through the real ollama client), the VRAM from nvidia-smi, the model's current
// cache counted as free; and a daemon that caps a batch's num_ctx by it.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OllamaEngine } from '../../server/engines/ollama.js';
import { numCtxForVram } from '../../server/gpu/vram-budget.js';
import type { VramSnapshot } from '../../server/gpu/vram-monitor.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import { isFinished, startDaemonProcess, submit, waitForBatch } from '../support/daemon-process.js';
import { FakeNvidiaSmi } from '../support/fake-nvidia-smi.js';
import { startOllamaEmulator } from '../support/ollama-emulator/server.js';

const MIB = 1024 * 1024;

function snapshot(used: number, total: number, models: VramSnapshot['models'] = []): VramSnapshot {
  return {
    at: 0,
    gpus: [{ index: 0, name: 'GPU', usedMiB: used, totalMiB: total, utilizationPercent: 0 }],
    status: 'ok',
    models,
    usedShare: used / total,
    peakUsedMiB: used,
    pressure: 'normal',
    warnings: [],
  };
}

describe('num_ctx within VRAM', function () {
  this.timeout(120_000);

  it("holds the KV cache of every slot under the warning level, the loaded model's own cache counted as free", () => {
    const kv = 160 * 1024; // bytes per token, e.g. a 12B model's f16 cache
    // 16 GiB, 12 GiB used: 0.9 × 16384 − 12288 = 2457.6 MiB free for 4 slots.
    const free = numCtxForVram(snapshot(12_288, 16_384), {
      model: 'm',
      kvBytesPerToken: kv,
      slots: 4,
      warningShare: 0.9,
    })!;
    assert.equal(free, Math.floor(Math.floor((2457.6 * MIB) / (kv * 4)) / 1024) * 1024);
    const loaded = numCtxForVram(
      snapshot(12_288, 16_384, [
        { name: 'm:latest', sizeBytes: 1, vramBytes: 1, contextLength: 8192, spilled: false, spilledShare: 0 },
      ]),
      { model: 'm', kvBytesPerToken: kv, slots: 4, warningShare: 0.9 },
    )!;
    assert.equal(
      loaded,
      Math.floor(Math.floor((2457.6 * MIB + kv * 8192 * 4) / (kv * 4)) / 1024) * 1024,
      'a reload frees the loaded cache',
    );
    assert.equal(
      numCtxForVram(snapshot(16_000, 16_384), { model: 'm', kvBytesPerToken: kv, slots: 4, warningShare: 0.9 }),
      2048,
      'never below the minimum',
    );
    assert.equal(
      numCtxForVram(undefined, { model: 'm', kvBytesPerToken: kv, slots: 4, warningShare: 0.9 }),
      undefined,
      'no GPU: no cap',
    );
    assert.equal(
      numCtxForVram(snapshot(1, 2), { model: 'm', slots: 4, warningShare: 0.9 }),
      undefined,
      'unknown cache size: no cap',
    );
  });

  it('reads the context length and the KV cache per token from /api/show', async () => {
    const emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
    try {
      const facts = await new OllamaEngine({ url: emulator.url }).modelFacts('tiny');
      // The emulator's defaults: 4 layers, 256 wide, 4 heads, 4 KV heads, context 8192.
      assert.deepEqual(facts, { contextLength: 8192, kvBytesPerToken: 2 * 4 * 256 * 2 });
    } finally {
      await emulator.close();
    }
  });

  it("caps a batch's num_ctx at what the GPU holds, and says so", async () => {
    const fake = await FakeNvidiaSmi.create();
    await fake.show([[14_720, 16_384]]); // 0.9 × 16384 − 14720 = 25.6 MiB free
    const emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
    const daemon = await startDaemonProcess(tempDir(), [
      '--ollama-url',
      emulator.url,
      '--concurrency',
      '2',
      '--num-ctx',
      '6144',
      '--nvidia-smi-path',
      fake.path,
    ]);
    try {
      const input = join(tempDir(), 'input.jsonl');
      writeFileSync(input, batchLines(10, { model: 'tiny' }));
      const created = await submit(daemon.connection, input);
      assert.equal((await waitForBatch(daemon.connection, created.id, isFinished)).status, 'completed');
      // The calibration probe loaded the model at num_ctx 2048 (its cache, 4096 bytes × 2048 × 2
      // slots = 16 MiB, is freed by the reload): (25.6 + 16) MiB / (4096 × 2) = 5324 tokens: 5120,
      // under the 6144 asked for.
      assert.match(daemon.log(), new RegExp(`${created.id}: num_ctx 5120 \\(VRAM;`));
    } finally {
      await daemon.stop();
      await emulator.close();
      await fake.remove();
    }
  });
});

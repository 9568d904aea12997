// The metrics panel of a finished batch as a user reads it, in code-server through the UI: time
// labels apart from one another in one format, legends with values before any hovering, the run's
// average pace and length instead of a last window and "ETA 0s", and VRAM saying that no GPU was
// seen on a machine without one (this one: the daemon on the llama-cpp engine on the CPU).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { batchLines } from '../../support/batch-files.js';
import { commandTitle } from './installed.js';
import { uiSuite } from './ui-suite.js';

/** Enough for the charts to draw lines of several points (the daemon samples every few seconds). */
const LINES = 120;

describe('Ollama Batch in code-server: the metrics panel of a finished batch', function () {
  const ui = uiSuite({
    kind: 'metrics',
    screenshots: 'e2e-metrics',
    prepare: async (scratch) => {
      // As sample.jsonl is made, longer.
      await writeFile(join(scratch.workspace, 'metrics.jsonl'), batchLines(LINES, { model: 'tiny', maxTokens: 256 }));
    },
  });
  let metrics: FrameLocator;

  it(`runs metrics.jsonl (${LINES} lines) and opens its metrics`, async () => {
    await ui.openWorkspace();
    await ui.daemonRunning().waitFor({ timeout: 120_000 });
    await ui.bench.openFile('metrics.jsonl');
    await ui.bench.runCommand(commandTitle('ollamaBatch.runBatch'));
    await ui.bench
      .notification(`metrics.jsonl completed: ${LINES} of ${LINES} succeeded`)
      .waitFor({ timeout: 300_000 });
    await ui.bench.runCommand(commandTitle('ollamaBatch.showMetrics'));
    metrics = await ui.bench.webview(/Metrics/);
    await metrics.locator('#main').waitFor();
    await metrics.locator('#status', { hasText: 'completed' }).waitFor();
  });

  it('shows the run’s totals once it is over: its average req/s and total time, no ETA', async () => {
    await metrics.locator('#rate-label', { hasText: /^Average req\/s$/ }).waitFor();
    await metrics.locator('#eta-label', { hasText: /^Total time$/ }).waitFor();
    assert.match((await metrics.locator('#rate').textContent()) ?? '', /^\d+(\.\d+)?$/);
    assert.match((await metrics.locator('#eta').textContent()) ?? '', /^(\d+[smhd]|under 1s)/);
    assert.doesNotMatch((await metrics.locator('.counters').textContent()) ?? '', /ETA/);
  });

  it('says no GPU was seen, over the VRAM chart and in its counter', async () => {
    assert.ok(!existsSync('/dev/nvidia0'), 'this test expects a machine without an NVIDIA GPU');
    await metrics.locator('#vram-none', { hasText: 'no GPU seen' }).waitFor();
    assert.equal(await metrics.locator('#vram').textContent(), 'no GPU seen');
  });

  it('writes the time labels apart from one another, in one format', async () => {
    for (const id of ['chart-throughput', 'chart-latency', 'chart-vram']) {
      const labels = metrics.locator(`#${id} .time-label`);
      await labels.first().waitFor();
      const boxes = [];
      for (const label of await labels.all()) {
        const box = await label.boundingBox();
        assert.ok(box && box.width > 0, `#${id}: a time label without a box`);
        boxes.push({ ...box, text: (await label.textContent()) ?? '' });
      }
      boxes.sort((a, b) => a.x - b.x);
      for (let index = 1; index < boxes.length; index++) {
        const [before, after] = [boxes[index - 1]!, boxes[index]!];
        assert.ok(
          before.x + before.width <= after.x,
          `#${id}: "${before.text}" (${before.x}+${before.width}) overlaps "${after.text}" (${after.x})`,
        );
      }
      // One format: the same shape of digits for every label (a run of seconds: hh:mm:ss).
      const shapes = new Set(boxes.map(({ text }) => text.replaceAll(/\d/g, '9')));
      assert.equal(shapes.size, 1, `#${id}: labels in several formats: ${boxes.map(({ text }) => text).join(', ')}`);
    }
  });

  it('shows the latest values in the legends without hovering', async () => {
    // The cursor off every chart: on the panel's header.
    await metrics.locator('header').hover();
    const value = metrics.locator('#chart-throughput .u-legend .u-series:nth-child(2) .u-value');
    assert.match((await value.textContent()) ?? '', /\d/);
    // The README's picture, without the completion toast over the last chart.
    await ui.bench.runCommand('Notifications: Clear All Notifications');
    await ui.bench.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    await ui.bench.page.locator('.notification-toast').first().waitFor({ state: 'hidden' });
    await ui.bench.screenshot('metrics');
  });
});

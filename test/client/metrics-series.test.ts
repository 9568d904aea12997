// The metrics panel's data: the daemon's samples and snapshots as SeriesPoints and counters, and
// the webview's reducer of points into chart columns (deduplicated, bounded).
import assert from 'node:assert/strict';
import { BatchMetrics, ERROR_CLASSES as SERVER_ERROR_CLASSES } from '../../server/metrics/batch-metrics.js';
import { countersOf, pointOfSample, pointOfSnapshot } from '../../client/model/metrics-view.js';
import { ERROR_CLASSES, type SeriesPoint } from '../../client/webview/messages.js';
import { SERIES_KEYS, SeriesBuffer } from '../../client/webview/series.js';

const T0 = 1_700_000_000_000;

function runningMetrics(): { metrics: BatchMetrics; clock: { t: number } } {
  const clock = { t: T0 };
  const metrics = new BatchMetrics({ now: () => clock.t });
  for (let second = 0; second < 10; second++) {
    clock.t = T0 + second * 1000;
    metrics.answered({
      latencyMs: 1500 + second * 10,
      promptTokens: 1000,
      completionTokens: 50,
      cachedTokens: 800,
      at: clock.t,
    });
  }
  metrics.failed('timeout', clock.t);
  metrics.context({ numCtx: 8192, promptTokens: 4096 });
  metrics.vram({ usedMiB: 12_000, totalMiB: 16_000, spilled: false });
  metrics.progress({ done: 11, total: 100 });
  clock.t = T0 + 10_000;
  return { metrics, clock };
}

const point = (t: number, requestsPerSecond: number | null = 1): SeriesPoint => ({
  t,
  requestsPerSecond,
  latencyP50: 100,
  latencyP95: 200,
  latencyP99: 300,
  promptTokens: 10,
  cachedTokens: 5,
  completionTokens: 2,
  contextUtilisation: 0.5,
  trims: 0,
  vramUsedMiB: null,
  errors: { oom: 0, timeout: 1, engine: 0, validation: 0, context: 0 },
});

describe('metrics series', () => {
  it('knows the same error classes as the daemon', () => {
    assert.deepEqual([...ERROR_CLASSES], [...SERVER_ERROR_CLASSES]);
  });

  it('turns a live snapshot into a point and the counters', () => {
    const { metrics } = runningMetrics();
    const snapshot = metrics.snapshot();
    const live = pointOfSnapshot(snapshot);
    assert.equal(live.t, T0 + 10_000);
    assert.equal(live.promptTokens, 10_000);
    assert.equal(live.cachedTokens, 8000);
    assert.equal(live.contextUtilisation, 0.5);
    assert.equal(live.vramUsedMiB, 12_000);
    assert.equal(live.errors.timeout, 1);
    const counters = countersOf(snapshot);
    assert.equal(counters.done, 11);
    assert.equal(counters.total, 100);
    assert.equal(counters.cachedShare, 0.8);
    assert.equal(counters.errors, 1);
    assert.equal(counters.numCtx, 8192);
    assert.ok(counters.requestsPerSecond! > 0);
    assert.ok(counters.etaSeconds! > 0);
  });

  it('reads time series rows, skipping those without a time', () => {
    const row = {
      t: T0,
      done: 5,
      requestsPerSecond: 2.5,
      latencyP50: 900,
      promptTokens: 100,
      errors: { oom: 1, unknown: 7 },
    };
    const parsed = pointOfSample(row)!;
    assert.equal(parsed.requestsPerSecond, 2.5);
    assert.equal(parsed.latencyP95, null, 'a missing figure is null, not 0');
    assert.deepEqual(parsed.errors, { oom: 1, timeout: 0, engine: 0, validation: 0, context: 0 });
    assert.equal(pointOfSample({ requestsPerSecond: 1 }), null);
  });

  it('reduces points to chart columns, dropping repeats of a second', () => {
    const buffer = new SeriesBuffer();
    buffer.reset([point(T0), point(T0 + 5000)]);
    assert.equal(buffer.push(point(T0 + 5000)), false, 'the snapshot of the last sample');
    assert.equal(buffer.push(point(T0 + 6000, null)), true);
    const [x, rate, utilisation] = buffer.data(['requestsPerSecond', 'contextUtilisation']);
    assert.deepEqual(x, [T0 / 1000, T0 / 1000 + 5, T0 / 1000 + 6]);
    assert.deepEqual(rate, [1, 1, null]);
    assert.deepEqual(utilisation, [50, 50, 50], 'utilisation in percent');
    assert.deepEqual(buffer.column('error:timeout'), [1, 1, 1]);
    assert.equal(SERIES_KEYS.length, 10 + ERROR_CLASSES.length);
  });

  it('stays bounded over a 13-hour run, keeping its ends', () => {
    const buffer = new SeriesBuffer(4000);
    const seconds = 13 * 3600;
    for (let second = 0; second < seconds; second++) buffer.push(point(T0 + second * 1000, second));
    assert.ok(buffer.length <= 4000 && buffer.length > 2000, String(buffer.length));
    assert.equal(buffer.x[0], T0 / 1000);
    assert.equal(buffer.x.at(-1), T0 / 1000 + seconds - 1);
    const rate = buffer.column('requestsPerSecond');
    assert.equal(rate.length, buffer.length);
    assert.deepEqual(rate.slice(-3), [seconds - 3, seconds - 2, seconds - 1], 'the recent end at full resolution');
    for (let index = 1; index < buffer.length; index++) assert.ok(buffer.x[index]! > buffer.x[index - 1]!);
  });
});

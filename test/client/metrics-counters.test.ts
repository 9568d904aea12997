// The metrics panel's counters from a real BatchMetrics snapshot: the pace and ETA while a run goes,
// the run's average and length once it is over, and "no GPU seen" where the daemon read no GPU.
import assert from 'node:assert/strict';
import { countersOf } from '../../client/model/metrics-view.js';
import { NO_GPU, paceCells, vramText } from '../../client/webview/counters.js';
import { formatDuration, formatRate } from '../../client/webview/numbers.js';
import { SeriesBuffer } from '../../client/webview/series.js';
import { BatchMetrics } from '../../server/metrics/batch-metrics.js';

const T0 = 1_700_000_000_000;

/** 20 answers in the first 10 s, then one at 100 s: the last window's pace is far from the run's. */
function finishedRun(): BatchMetrics {
  const clock = { t: T0 };
  const metrics = new BatchMetrics({ now: () => clock.t });
  const answer = (at: number): void =>
    metrics.answered({ latencyMs: 500, promptTokens: 100, completionTokens: 10, cachedTokens: 0, at });
  for (let index = 0; index < 20; index++) answer(T0 + index * 500);
  clock.t = T0 + 100_000;
  answer(clock.t);
  metrics.progress({ done: 21, total: 21 });
  return metrics;
}

describe('metrics panel counters', () => {
  it('shows the recent pace and the ETA while the batch runs', () => {
    const counters = countersOf(finishedRun().snapshot());
    const pace = paceCells(counters, false);
    assert.equal(pace.rateLabel, 'Requests/s');
    assert.equal(pace.rate, formatRate(counters.requestsPerSecond!));
    assert.equal(pace.timeLabel, 'ETA');
  });

  it('shows the whole run’s average and its length once it is over, not the last window', () => {
    const snapshot = finishedRun().snapshot();
    const { window, run } = snapshot.performance;
    assert.notEqual(formatRate(window.requestsPerSecond!), formatRate(run.requestsPerSecond!));
    const pace = paceCells(countersOf(snapshot), true);
    assert.deepEqual(pace, {
      rateLabel: 'Average req/s',
      rate: formatRate(21 / run.seconds),
      timeLabel: 'Total time',
      time: formatDuration(run.seconds),
    });
    assert.equal(pace.time, '2m');
    assert.equal(
      paceCells({ ...countersOf(snapshot), run: { requestsPerSecond: 30, seconds: 0.2 } }, true).time,
      'under 1s',
    );
    assert.doesNotMatch(JSON.stringify(pace), /ETA/);
  });

  it('says no GPU was seen where the daemon never read VRAM, and shows the reading where it did', () => {
    const metrics = finishedRun();
    const withoutGpu = countersOf(metrics.snapshot());
    assert.equal(withoutGpu.vramUsedMiB, null);
    const empty = new SeriesBuffer();
    assert.equal(empty.hasValue('vramUsedMiB'), false);
    assert.equal(vramText(withoutGpu, empty.hasValue('vramUsedMiB')), NO_GPU);
    // A poll that found no GPU reads as none as well.
    metrics.vram({ usedMiB: null, totalMiB: null, spilled: false });
    assert.equal(vramText(countersOf(metrics.snapshot()), false), NO_GPU);

    metrics.vram({ usedMiB: 12_288, totalMiB: 16_384, spilled: false });
    assert.equal(vramText(countersOf(metrics.snapshot()), true), '12.0 / 16.0 GiB');
    // A GPU seen earlier in the run that a later poll missed: unknown now, not "no GPU".
    assert.equal(vramText(withoutGpu, true), '–');
  });
});

// Per-batch metrics: aggregates fed known events, percentiles against an exact sort, windowed
// rates and ETA on an injected clock (no sleeping), restore after a restart, bounded size.
import assert from 'node:assert/strict';
import {
  BatchMetrics,
  MAX_ADJUSTMENTS,
  errorClassOf,
  type BatchMetricsState,
} from '../../server/metrics/batch-metrics.js';

const T0 = 1_700_000_000_000;

/** A clock the test moves by hand. */
function manualClock(start = T0) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

/** mulberry32: a small seeded generator, so the random latencies are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-normal latencies around 2 s, as a batch of LLM requests shows them (Box–Muller). */
function logNormal(random: () => number): number {
  const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return 2000 * Math.exp(0.8 * normal);
}

const nearestRank = (sorted: number[], p: number): number => sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1]!;

/** Within the histogram's documented 1%. */
function assertClose(reported: number | null, exact: number, label = ''): void {
  assert.ok(reported !== null && Math.abs(reported - exact) / exact <= 0.01, `${label} ${reported} vs ${exact}`);
}

const answer = (at: number, promptTokens = 100, completionTokens = 20) => ({
  latencyMs: 1000,
  promptTokens,
  completionTokens,
  cachedTokens: 0,
  at,
});

describe('batch metrics', () => {
  it('sorts error codes into classes and leaves cancelled, expired and aborted lines out', () => {
    const cases: Record<string, ReturnType<typeof errorClassOf>> = {
      out_of_memory: 'oom',
      timeout: 'timeout',
      request_timeout: 'timeout',
      context_length_exceeded: 'context',
      invalid_request: 'validation',
      invalid_json: 'validation',
      invalid_json_line: 'validation',
      duplicate_custom_id: 'validation',
      server_error: 'engine',
      model_not_found: 'engine',
      engine_overloaded: 'engine',
      connection_error: 'engine',
      batch_cancelled: null,
      batch_expired: null,
      aborted: null,
    };
    for (const [code, expected] of Object.entries(cases)) assert.equal(errorClassOf(code), expected, code);
  });

  it('adds up tokens, cache savings, context, trims, VRAM, errors and adjustments', () => {
    const clock = manualClock();
    const metrics = new BatchMetrics({ now: clock.now });
    const answers = [
      { latencyMs: 100, promptTokens: 1000, completionTokens: 50, cachedTokens: 600, estimatedPromptTokens: 900 },
      { latencyMs: 200, promptTokens: 500, completionTokens: 30, cachedTokens: 0 },
      { latencyMs: 300, promptTokens: 300, completionTokens: 20, cachedTokens: 200, estimatedPromptTokens: 330 },
    ];
    answers.forEach((event) => metrics.answered(event));
    metrics.context({ numCtx: 4096, promptTokens: 1000 });
    metrics.context({ numCtx: 4096, promptTokens: 3000 });
    metrics.context({ numCtx: 8192, promptTokens: 500 });
    metrics.trimmed({ strategy: 'sliding-window', dropped: 3, tokensBefore: 5000, tokensAfter: 4000 });
    metrics.trimmed({ strategy: 'sliding-window', dropped: 1, tokensBefore: 4500, tokensAfter: 4090 });
    metrics.trimmed({ strategy: 'aggressive', dropped: 6, tokensBefore: 6000, tokensAfter: 3000 });
    metrics.vram({ usedMiB: 9000, totalMiB: 16000, spilled: false });
    metrics.vram({ usedMiB: 15500, totalMiB: 16000, spilled: true });
    metrics.vram({ usedMiB: 12000, totalMiB: 16000, spilled: false });
    metrics.failed('oom');
    metrics.failed('oom');
    metrics.failed('validation');
    metrics.retried('timeout');
    metrics.retried('oom');
    metrics.retried('timeout');
    metrics.adjusted({ reason: 'oom: fewer requests at once', concurrency: 2 });
    clock.t += 5000;
    metrics.adjusted({ reason: 'context too small', concurrency: 1, numCtx: 8192 });

    const snapshot = metrics.snapshot();
    const prompt = 1000 + 500 + 300;
    assert.deepEqual(snapshot.tokens, {
      prompt,
      completion: 100,
      cached: 800,
      uncachedSaving: { share: 800 / prompt, tokens: 800 },
      estimateRatio: (1000 + 300) / (900 + 330),
    });
    assert.deepEqual(snapshot.context, {
      numCtx: 8192,
      current: 500,
      peak: 3000,
      utilisation: 3000 / 8192,
      trims: {
        total: 3,
        byStrategy: { 'sliding-window': 2, aggressive: 1 },
        droppedMessages: 10,
        tokensRemoved: 1000 + 410 + 3000,
      },
    });
    assert.deepEqual(snapshot.vram, {
      usedMiB: 12000,
      totalMiB: 16000,
      peakUsedMiB: 15500,
      utilisation: 0.75,
      spilled: false,
      everSpilled: true,
    });
    assert.deepEqual(snapshot.errors, {
      total: 3,
      byClass: { oom: 2, timeout: 0, engine: 0, validation: 1, context: 0 },
      retriesByClass: { oom: 1, timeout: 2, engine: 0, validation: 0, context: 0 },
    });
    assert.deepEqual(snapshot.adjustments, [
      { at: T0, reason: 'oom: fewer requests at once', concurrency: 2 },
      { at: T0 + 5000, reason: 'context too small', concurrency: 1, numCtx: 8192 },
    ]);
    const { p50, p95, p99, ...latency } = snapshot.performance.latencyMs;
    assert.deepEqual(latency, { count: 3, min: 100, max: 300, mean: 200 });
    assertClose(p50, 200);
    assertClose(p95, 300);
    assertClose(p99, 300);
  });

  it('reports nulls before anything is fed', () => {
    const snapshot = new BatchMetrics({ now: manualClock().now }).snapshot();
    assert.equal(snapshot.vram, null);
    assert.equal(snapshot.progress, null);
    assert.equal(snapshot.tokens.uncachedSaving.share, null);
    assert.equal(snapshot.context.utilisation, null);
    assert.equal(snapshot.performance.etaSeconds, null);
    assert.deepEqual(snapshot.performance.latencyMs, {
      count: 0,
      min: null,
      max: null,
      mean: null,
      p50: null,
      p95: null,
      p99: null,
    });
    assert.equal(snapshot.performance.window.requestsPerSecond, null);
  });

  it('gives p50, p95 and p99 within 1% of an exact sort over 100,000 latencies', () => {
    const random = seeded(42);
    const metrics = new BatchMetrics({ now: manualClock().now });
    const latencies: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      const latencyMs = logNormal(random);
      latencies.push(latencyMs);
      metrics.answered({ latencyMs, promptTokens: 1, completionTokens: 1, cachedTokens: 0, at: T0 });
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const summary = metrics.snapshot().performance.latencyMs;
    assertClose(summary.p50, nearestRank(sorted, 0.5), 'p50');
    assertClose(summary.p95, nearestRank(sorted, 0.95), 'p95');
    assertClose(summary.p99, nearestRank(sorted, 0.99), 'p99');
    assert.equal(summary.min, sorted[0]);
    assert.equal(summary.max, sorted.at(-1));
    assert.ok(Math.abs(summary.mean! - latencies.reduce((a, b) => a + b, 0) / latencies.length) < 1e-6);
  });

  it("measures rates over the last 60 seconds and over the whole run, from the events' own times", () => {
    const clock = manualClock();
    const metrics = new BatchMetrics({ now: clock.now });
    const times: number[] = [];
    for (let at = T0; at <= T0 + 200_000; at += 250) times.push(at);
    /** Moves the clock on, feeding the answers up to then as they would come. */
    const runUntil = (t: number): void => {
      times.filter((at) => at > clock.t && at <= t).forEach((at) => metrics.answered(answer(at)));
      clock.t = t;
    };

    metrics.answered(answer(T0));
    runUntil(T0 + 10_500);
    const young = metrics.snapshot().performance.window;
    const youngCount = times.filter((at) => at <= clock.t).length;
    assert.equal(young.seconds, 10.5, 'a run younger than the window is measured from its start');
    assert.equal(young.requestsPerSecond, youngCount / 10.5);

    runUntil(T0 + 200_500);
    const { window, run } = metrics.snapshot().performance;
    // The window is the 60 whole seconds up to now, the current one included: from T0 + 141 s.
    const windowStart = T0 + 141_000;
    const inWindow = times.filter((at) => at >= windowStart && at <= clock.t).length;
    const seconds = (clock.t - windowStart) / 1000;
    assert.deepEqual(window, {
      seconds,
      requestsPerSecond: inWindow / seconds,
      promptTokensPerSecond: (inWindow * 100) / seconds,
      completionTokensPerSecond: (inWindow * 20) / seconds,
    });
    assert.deepEqual(run, {
      seconds: 200.5,
      requestsPerSecond: times.length / 200.5,
      promptTokensPerSecond: (times.length * 100) / 200.5,
      completionTokensPerSecond: (times.length * 20) / 200.5,
    });

    // An answer stamped before the window counts in the run but not in the window.
    metrics.answered(answer(T0 + 100_000));
    assert.equal(metrics.snapshot().performance.window.requestsPerSecond, inWindow / seconds);
    assert.equal(metrics.snapshot().performance.run.requestsPerSecond, (times.length + 1) / 200.5);
  });

  it("estimates the time left from the recent pace, else the run's, of answers and final failures", () => {
    const clock = manualClock();
    const metrics = new BatchMetrics({ now: clock.now });
    assert.equal(metrics.snapshot().performance.etaSeconds, null, 'no progress known');
    metrics.progress({ done: 0, total: 1000 });
    assert.equal(metrics.snapshot().performance.etaSeconds, null, 'nothing finished yet');

    // 30 s at 2 answers and 1 final failure a second.
    for (let second = 0; second < 30; second++) {
      metrics.answered(answer(T0 + second * 1000));
      metrics.answered(answer(T0 + second * 1000 + 500));
      metrics.failed('engine', T0 + second * 1000 + 700);
    }
    clock.t = T0 + 30_000;
    metrics.progress({ done: 90, total: 1000 });
    assert.equal(metrics.snapshot().performance.etaSeconds, 910 / (90 / 30));

    // A minute and more with nothing finished: the window is empty, the run's pace stands in.
    clock.t = T0 + 150_000;
    assert.equal(metrics.snapshot().performance.etaSeconds, 910 / (90 / 150));

    metrics.progress({ done: 1000, total: 1000 });
    assert.equal(metrics.snapshot().performance.etaSeconds, 0);
  });

  it('goes on from toJSON after a restart, the time the daemon was down left out', () => {
    const clock = manualClock();
    const random = seeded(7);
    const before = new BatchMetrics({ now: clock.now });
    for (let i = 0; i < 1000; i++) {
      before.answered({
        latencyMs: logNormal(random),
        promptTokens: 400,
        completionTokens: 30,
        cachedTokens: 300,
        at: T0 + i * 100,
      });
    }
    before.context({ numCtx: 4096, promptTokens: 420 });
    before.trimmed({ strategy: 'hybrid', dropped: 2, tokensBefore: 5000, tokensAfter: 4000 });
    before.vram({ usedMiB: 14000, totalMiB: 16000, spilled: true });
    before.failed('context');
    before.retried('oom');
    before.adjusted({ reason: 'vram pressure', concurrency: 1 });
    before.progress({ done: 1001, total: 5000 });
    clock.t = T0 + 100_000;
    const saved = JSON.parse(JSON.stringify(before)) as BatchMetricsState;
    const old = before.snapshot();

    clock.t = T0 + 700_000; // ten minutes down
    const after = BatchMetrics.fromJSON(saved, { now: clock.now });
    const restored = after.snapshot();
    for (const key of ['tokens', 'context', 'vram', 'errors', 'adjustments', 'progress'] as const)
      assert.deepEqual(restored[key], old[key], key);
    assert.deepEqual(restored.performance.latencyMs, old.performance.latencyMs);
    assert.deepEqual(restored.performance.run, old.performance.run);
    assert.equal(restored.performance.window.requestsPerSecond, null, 'the window starts empty');

    clock.t += 10_000;
    after.answered({ latencyMs: 1, promptTokens: 10, completionTokens: 3, cachedTokens: 0, at: clock.t - 1 });
    const later = after.snapshot();
    assert.equal(later.performance.run.seconds, 110);
    assert.equal(later.performance.run.requestsPerSecond, 1001 / 110);
    assert.equal(later.performance.window.requestsPerSecond, 1 / 10);
    assert.equal(later.tokens.prompt, 400_010);
    assert.equal(later.performance.latencyMs.min, 1);

    assert.throws(() => BatchMetrics.fromJSON({ ...saved, version: 2 as 1 }), /version/);
  });

  it('keeps its persisted form to a few KB after a million answers and keeps the last 50 adjustments', () => {
    const clock = manualClock();
    const random = seeded(1);
    const metrics = new BatchMetrics({ now: clock.now });
    for (let i = 0; i < 1_000_000; i++) {
      metrics.answered({
        latencyMs: 50 + random() * 4950,
        promptTokens: 500,
        completionTokens: 40,
        cachedTokens: 400,
        at: T0 + i * 47,
      });
    }
    for (let i = 0; i < 200; i++) metrics.adjusted({ reason: `step ${i}`, concurrency: (i % 4) + 1 });
    const { adjustments, ...rest } = metrics.toJSON();
    assert.equal(adjustments.length, MAX_ADJUSTMENTS);
    assert.equal(adjustments[0]!.reason, 'step 150');
    assert.equal(adjustments.at(-1)!.reason, 'step 199');
    const size = JSON.stringify(rest).length;
    assert.ok(size < 4096, `${size} bytes`);
    assert.equal(metrics.snapshot().performance.latencyMs.count, 1_000_000);
  });
});

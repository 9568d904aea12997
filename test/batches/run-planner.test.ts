// The run planner as a table: from a batch, what the engine tells, what was learned after an
// out-of-memory, a VRAM reading and the settings, the concurrency and num_ctx a run gets, how it
// trims, and its budgets. No engine, no store, no daemon: the plan is a function of its facts.
import assert from 'node:assert/strict';
import { planRun, type RunFacts, type RunPlan } from '../../server/batches/run-planner.js';
import { DEFAULT_CONCURRENCY } from '../../server/config/defaults.js';
import { DEFAULT_RUNNER_OPTIONS } from '../../server/batches/runner.js';
import { Calibration } from '../../server/context/calibration.js';
import type { VramSnapshot } from '../../server/gpu/vram-monitor.js';

/** A calibrated model whose tokens are our estimate, times `factor`. */
const calibrated = (factor = 1): Calibration => new Calibration({ mean: factor, variance: 0, observations: 10 });

/** One GPU with `usedMiB` of `totalMiB` in use. */
function vram(usedMiB: number, totalMiB: number): VramSnapshot {
  return {
    at: 0,
    gpus: [{ index: 0, name: 'GPU', usedMiB, totalMiB, utilizationPercent: 0 }],
    status: 'ok',
    models: [],
    usedShare: usedMiB / totalMiB,
    peakUsedMiB: usedMiB,
    pressure: 'normal',
    warnings: [],
  };
}

/** Longest prompt 5,000 tokens and answers up to 1,000: 6,000, so num_ctx 6144 unless something caps it. */
function facts(overrides: Partial<RunFacts> = {}): RunFacts {
  return {
    model: 'm',
    options: {},
    cancelling: false,
    measured: { longestPrompt: 5000, longestLine: 7, longestOutput: 1000 },
    calibration: calibrated(),
    settings: {},
    ...overrides,
  };
}

// 0.9 × 16384 − 14730 = 15.6 MiB under the warning level; 4096 bytes of KV cache per token.
const TIGHT_VRAM = { vram: vram(14_730, 16_384), engine: { kvBytesPerToken: 4096 } };
const vramNumCtx = (slots: number): number =>
  Math.max(2048, Math.floor(Math.floor(((0.9 * 16_384 - 14_730) * 1024 * 1024) / (4096 * slots)) / 1024) * 1024);

const cases: Array<{ name: string; facts: RunFacts; concurrency: number; numCtx: RunPlan['numCtx'] }> = [
  {
    name: 'nothing said: the default concurrency, num_ctx from the longest request',
    facts: facts(),
    concurrency: DEFAULT_CONCURRENCY,
    numCtx: { numCtx: 6144, reason: 'requests' },
  },
  {
    name: "the engine's slots where nothing is configured",
    facts: facts({ slots: 6 }),
    concurrency: 6,
    numCtx: { numCtx: 6144, reason: 'requests' },
  },
  {
    name: "a configured concurrency over the engine's slots",
    facts: facts({ slots: 6, settings: { concurrency: 2 } }),
    concurrency: 2,
    numCtx: { numCtx: 6144, reason: 'requests' },
  },
  {
    name: "the batch's own concurrency over the configured one",
    facts: facts({ slots: 6, options: { concurrency: 3 }, settings: { concurrency: 2 } }),
    concurrency: 3,
    numCtx: { numCtx: 6144, reason: 'requests' },
  },
  {
    name: 'a learned concurrency caps a higher one',
    facts: facts({ settings: { concurrency: 8 }, learned: { concurrency: 3, learnedAt: 0 } }),
    concurrency: 3,
    numCtx: { numCtx: 6144, reason: 'requests' },
  },
  {
    name: 'a learned concurrency never raises a lower one',
    facts: facts({ settings: { concurrency: 2 }, learned: { concurrency: 5, learnedAt: 0 } }),
    concurrency: 2,
    numCtx: { numCtx: 6144, reason: 'requests' },
  },
  {
    name: "the calibration turns the estimate into the model's tokens",
    facts: facts({ calibration: calibrated(2) }),
    concurrency: 4,
    numCtx: { numCtx: 11_264, reason: 'requests' },
  },
  {
    name: "a num_ctx from the batch's metadata",
    facts: facts({ options: { numCtx: 8192 } }),
    concurrency: 4,
    numCtx: { numCtx: 8192, reason: 'setting' },
  },
  {
    name: "the batch's num_ctx over the configured one",
    facts: facts({ options: { numCtx: 8192 }, settings: { numCtx: 3072 } }),
    concurrency: 4,
    numCtx: { numCtx: 8192, reason: 'setting' },
  },
  {
    name: 'the configured num_ctx',
    facts: facts({ settings: { numCtx: 3072 } }),
    concurrency: 4,
    numCtx: { numCtx: 3072, reason: 'setting' },
  },
  {
    name: "the model's own context length caps it",
    facts: facts({ engine: { contextLength: 4096 } }),
    concurrency: 4,
    numCtx: { numCtx: 4096, reason: 'model limit' },
  },
  {
    name: "the model's context length caps a setting too",
    facts: facts({ options: { numCtx: 32_768 }, engine: { contextLength: 8192 } }),
    concurrency: 4,
    numCtx: { numCtx: 8192, reason: 'model limit' },
  },
  {
    name: 'the num_ctx learned after an out-of-memory caps it',
    facts: facts({ learned: { concurrency: 4, numCtx: 3072, learnedAt: 0 } }),
    concurrency: 4,
    numCtx: { numCtx: 3072, reason: 'learned limit' },
  },
  {
    name: 'a learned num_ctx above what the batch needs changes nothing',
    facts: facts({ learned: { concurrency: 4, numCtx: 16_384, learnedAt: 0 } }),
    concurrency: 4,
    numCtx: { numCtx: 6144, reason: 'requests' },
  },
  {
    name: 'the VRAM caps it, for every slot of the concurrency',
    facts: facts({ ...TIGHT_VRAM, settings: { concurrency: 2 } }),
    concurrency: 2,
    numCtx: { numCtx: vramNumCtx(2), reason: 'VRAM' },
  },
  {
    name: 'the VRAM cap counts the learned concurrency, not the configured one',
    facts: facts({ ...TIGHT_VRAM, settings: { concurrency: 8 }, learned: { concurrency: 1, learnedAt: 0 } }),
    concurrency: 1,
    numCtx: { numCtx: vramNumCtx(1), reason: 'VRAM' },
  },
  {
    name: 'no KV cache size: no VRAM cap',
    facts: facts({ vram: vram(14_730, 16_384) }),
    concurrency: 4,
    numCtx: { numCtx: 6144, reason: 'requests' },
  },
  {
    name: "the model's limit under the VRAM cap wins",
    facts: facts({
      ...TIGHT_VRAM,
      engine: { kvBytesPerToken: 4096, contextLength: 2048 },
      settings: { concurrency: 1 },
    }),
    concurrency: 1,
    numCtx: { numCtx: 2048, reason: 'model limit' },
  },
  {
    name: 'a num_ctx chosen at the first run is kept, whatever caps it now',
    facts: facts({ ...TIGHT_VRAM, chosenNumCtx: { numCtx: 5120, reason: 'requests' } }),
    concurrency: 4,
    numCtx: { numCtx: 5120, reason: 'requests' },
  },
  {
    name: 'a batch cancelled before its first run gets none',
    facts: facts({ cancelling: true }),
    concurrency: 4,
    numCtx: undefined,
  },
];

describe('the run planner', () => {
  for (const { name, facts: given, concurrency, numCtx } of cases) {
    it(name, () => {
      const plan = planRun(given);
      assert.equal(plan.concurrency, concurrency);
      assert.deepEqual(plan.numCtx, numCtx);
    });
  }

  it('the VRAM cases above are caps: below what the batch asks for', () => {
    assert.ok(
      vramNumCtx(2) < 6144 && vramNumCtx(1) < 6144 && vramNumCtx(1) > vramNumCtx(2),
      `${vramNumCtx(1)} and ${vramNumCtx(2)}`,
    );
  });

  it("trims by the batch's choices first, then the settings, else independent requests and a sliding window", () => {
    assert.deepEqual(planRun(facts()).trim, { mode: 'independent', strategy: 'sliding-window' });
    const settings = {
      mode: 'conversation',
      trimStrategy: 'importance',
      trimEvery: 5,
      aggressiveFraction: 0.5,
      trimAllowCut: true,
    } as const;
    assert.deepEqual(planRun(facts({ settings })).trim, {
      mode: 'conversation',
      strategy: 'importance',
      trimEvery: 5,
      aggressiveFraction: 0.5,
      allowCut: true,
    });
    assert.deepEqual(planRun(facts({ settings, options: { mode: 'independent', trimStrategy: 'hybrid' } })).trim, {
      mode: 'independent',
      strategy: 'hybrid',
      trimEvery: 5,
      aggressiveFraction: 0.5,
      allowCut: true,
    });
  });

  it("gives each request the configured time and tries, else the runner's defaults", () => {
    const { requestTimeoutMs, maxAttempts, backoffBaseMs, backoffMaxMs } = DEFAULT_RUNNER_OPTIONS;
    assert.deepEqual(planRun(facts()).budgets, { requestTimeoutMs, maxAttempts, backoffBaseMs, backoffMaxMs });
    assert.deepEqual(planRun(facts({ settings: { requestTimeoutMs: 5000, maxAttempts: 2 } })).budgets, {
      requestTimeoutMs: 5000,
      maxAttempts: 2,
      backoffBaseMs,
      backoffMaxMs,
    });
  });

  it('checks answers by the batch, else the settings, else the defaults; the pilot check only until its verdict', () => {
    assert.deepEqual(planRun(facts()).answers, {
      retryInvalid: false,
      pilot: { answers: 50, maxInvalidShare: 0.2 },
    });
    const set = { settings: { retryInvalid: true, pilotAnswers: 20, pilotMaxInvalid: 0.5 } };
    assert.deepEqual(planRun(facts(set)).answers, {
      retryInvalid: true,
      pilot: { answers: 20, maxInvalidShare: 0.5 },
    });
    assert.deepEqual(planRun(facts({ ...set, options: { retryInvalid: false, pilotMaxInvalid: 0.1 } })).answers, {
      retryInvalid: false,
      pilot: { answers: 20, maxInvalidShare: 0.1 },
    });
    for (const pilot of ['passed', 'paused', 'overridden'] as const)
      assert.equal(planRun(facts({ pilot })).answers.pilot, undefined, pilot);
    assert.equal(planRun(facts({ options: { pilotAnswers: 0 } })).answers.pilot, undefined, 'turned off');
  });

  it('changes none of its facts', () => {
    const given = facts({
      ...TIGHT_VRAM,
      learned: { concurrency: 2, numCtx: 3072, learnedAt: 0 },
      options: { concurrency: 3 },
    });
    const before = structuredClone({ ...given, calibration: given.calibration.toJSON() });
    planRun(given);
    assert.deepEqual({ ...given, calibration: given.calibration.toJSON() }, before);
  });
});

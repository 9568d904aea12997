// Convert's estimate checks the lines against the num_ctx the run will use: the setting, else the
// assumed default, never above the model's own limit or the num_ctx learned to hold.
import assert from 'node:assert/strict';
import { ASSUMED_NUM_CTX } from '../../server/context/num-ctx.js';
import { EstimateAccumulator, learnedInputs, plannedNumCtx } from '../../server/csv/estimate.js';

describe('convert estimate: the num_ctx the run will use', () => {
  it('takes the setting or the default, within the model limit and the learned limit', () => {
    assert.deepEqual(plannedNumCtx({}), { numCtx: ASSUMED_NUM_CTX, source: 'assumed' });
    assert.deepEqual(plannedNumCtx({ numCtx: 16_384 }), { numCtx: 16_384, source: 'setting' });
    // The embedded engine's tiny model: a context of 4096 of which it reports 4095 usable.
    assert.deepEqual(plannedNumCtx({ modelContextLength: 4095 }), { numCtx: 4095, source: 'model limit' });
    assert.deepEqual(plannedNumCtx({ numCtx: 2048, modelContextLength: 4095 }), { numCtx: 2048, source: 'setting' });
    assert.deepEqual(plannedNumCtx({ numCtx: 16_384, learnedNumCtx: 6144, modelContextLength: 32_768 }), {
      numCtx: 6144,
      source: 'learned limit',
    });
    assert.deepEqual(plannedNumCtx({ learnedNumCtx: 6144, modelContextLength: 4095 }), {
      numCtx: 4095,
      source: 'model limit',
    });
  });

  it('learns the smallest num_ctx that held on any GPU set', () => {
    const held = (numCtx?: number) => ({ concurrency: 2, learnedAt: 0, ...(numCtx && { numCtx }) });
    const stats = { limits: { 'no GPU': held(7168), 'RTX 4080': held(5120), other: held() } };
    assert.equal(learnedInputs(stats).learnedNumCtx, 5120);
    assert.equal(learnedInputs({}).learnedNumCtx, undefined);
  });

  it('counts a line that fits 8192 but not the model limit as over the context', () => {
    const estimate = new EstimateAccumulator({ modelContextLength: 4095 });
    estimate.add('short', 'hello', 10);
    estimate.add('long', 'x', 5000);
    const result = estimate.result();
    assert.deepEqual([result.num_ctx, result.num_ctx_source], [4095, 'model limit']);
    assert.deepEqual([result.lines_over_context, result.over_context_ids], [1, ['long']]);
  });
});

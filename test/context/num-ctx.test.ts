// The num_ctx rules, each by its name: the floor and the step, rounding up for room and down
// within a limit, the share learned after an out-of-memory, the step down after one, the
// calibration probe's room, and what a num_ctx's KV cache costs per slot.
import assert from 'node:assert/strict';
import {
  calibrationProbeNumCtx,
  learnedNumCtx,
  MIN_NUM_CTX,
  NUM_CTX_STEP,
  numCtxAfterOutOfMemory,
  numCtxForKvCache,
  roundNumCtx,
} from '../../server/context/num-ctx.js';

describe('num_ctx rules', () => {
  it('rounds up for room and down within a limit, to a step, never under the floor', () => {
    assert.deepEqual([MIN_NUM_CTX, NUM_CTX_STEP], [2048, 1024]);
    assert.equal(roundNumCtx(5000, 'up'), 5120);
    assert.equal(roundNumCtx(5120, 'up'), 5120);
    assert.equal(roundNumCtx(5000, 'down'), 4096);
    assert.equal(roundNumCtx(100, 'up'), MIN_NUM_CTX);
    assert.equal(roundNumCtx(0, 'down'), MIN_NUM_CTX);
  });

  it('keeps 90% of a num_ctx that held, 75% after one request alone ran out of memory, rounded down', () => {
    assert.equal(learnedNumCtx(8192), 7168); // 7372.8
    assert.equal(numCtxAfterOutOfMemory(8192), 6144);
    assert.equal(numCtxAfterOutOfMemory(3072), MIN_NUM_CTX); // 2304 → 2048
  });

  it('probes a tokenizer with room for four times our estimate', () => {
    assert.equal(calibrationProbeNumCtx(1000), 4096);
    assert.equal(calibrationProbeNumCtx(1100), 5120);
  });

  it('fits the KV cache of every slot in the free bytes, the loaded cache counted as free', () => {
    const kv = 4096;
    assert.equal(numCtxForKvCache({ freeBytes: kv * 10_000 * 2, kvBytesPerToken: kv, slots: 2 }), 9216);
    assert.equal(numCtxForKvCache({ freeBytes: kv * 10_000 * 2, kvBytesPerToken: kv, slots: 4 }), 4096);
    assert.equal(
      numCtxForKvCache({ freeBytes: kv * 10_000 * 2, kvBytesPerToken: kv, slots: 2, loadedContextLength: 4096 }),
      13_312,
    );
    assert.equal(numCtxForKvCache({ freeBytes: 0, kvBytesPerToken: kv, slots: 2 }), MIN_NUM_CTX);
  });
});

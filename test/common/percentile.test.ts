// The shared percentile helpers against values worked out by hand and against a sorted list.
import assert from 'node:assert/strict';
import { bucketAtRank, nearestRank, percentile } from '../../server/common/percentile.js';

describe('percentiles', () => {
  it('interpolates between the closest ranks, as numpy does', () => {
    assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
    assert.equal(percentile([1, 2, 3, 4], 100), 4);
    assert.equal(percentile([7], 99), 7);
  });

  it('takes the nearest rank ⌈share·count⌉, never below the first', () => {
    assert.equal(nearestRank(0.5, 4), 2);
    assert.equal(nearestRank(0.95, 100), 95);
    assert.equal(nearestRank(0.95, 101), 96);
    assert.equal(nearestRank(1, 7), 7);
    assert.equal(nearestRank(0, 7), 1);
  });

  it('finds the bucket of a rank as a sorted list of the same values would', () => {
    // Values 10, 20, 30 and 40 seen 3, 0, 5 and 2 times.
    const counts = [3, 0, 5, 2];
    const expanded = [10, 10, 10, 30, 30, 30, 30, 30, 40, 40];
    for (let rank = 1; rank <= expanded.length; rank++)
      assert.equal([10, 20, 30, 40][bucketAtRank(counts, rank)], expanded[rank - 1], `rank ${rank}`);
  });
});

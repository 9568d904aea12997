// Percentiles of the benchmark's timings, by nearest rank.
import { nearestRank } from '../../server/common/percentile.js';

/** The value at `share` of `values` (0.5: the median, 0.99: p99, 1: the largest); 0 for none. */
export function percentile(values: ArrayLike<number>, share: number): number {
  const sorted = Float64Array.from(values).sort();
  return sorted.length === 0 ? 0 : sorted[nearestRank(share, sorted.length) - 1]!;
}

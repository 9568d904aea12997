// Percentiles, each kind written once. Latencies and token counts kept as histograms use the
// nearest rank (a value that occurred); the statistics of answers interpolate between ranks, as
// numpy does by default, since they are compared with what a data scientist computes.

/** The p-th percentile (0–100) of ascending values, linear between the closest ranks (numpy's default). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/** The 1-based rank of the nearest-rank percentile at `share` (0.95: p95) of `count` values: ⌈share·count⌉, at least 1. */
export function nearestRank(share: number, count: number): number {
  return Math.max(1, Math.ceil(share * count));
}

/** The index of the bucket, in `counts` ordered by value, that holds the value at 1-based `rank`. */
export function bucketAtRank(counts: ArrayLike<number>, rank: number): number {
  let seen = 0;
  let index = 0;
  while ((seen += counts[index]!) < rank) index++;
  return index;
}

// The least time a pool's endpoints need for a batch, given each one's pace and when it was down:
// what a pool's wall time is set against when an endpoint goes away mid-batch.

/** One endpoint's pace and the stretches it was down, in ms since the batch's submit. */
export interface Capacity {
  perSecond: number;
  down: Array<[number, number]>;
}

/**
 * The least time in which endpoints at these paces, each working only while up, answer `lines`:
 * where the batch's wall time cannot go below, however well the pool schedules.
 */
export function serveTime(lines: number, endpoints: Capacity[]): number {
  const edges = [...new Set(endpoints.flatMap(({ down }) => down.flat()))].sort((a, b) => a - b);
  const paceAt = (ms: number): number =>
    endpoints
      .filter(({ down }) => !down.some(([from, to]) => ms >= from && ms < to))
      .reduce((sum, { perSecond }) => sum + perSecond / 1000, 0);
  let left = lines;
  let at = 0;
  for (const edge of [...edges.filter((edge) => edge > 0), Infinity]) {
    const pace = paceAt(at);
    if (pace > 0 && left <= pace * (edge - at)) return at + left / pace;
    if (edge === Infinity) break;
    left -= pace * (edge - at);
    at = edge;
  }
  throw new Error('no endpoint is ever up');
}

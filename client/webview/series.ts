// The metrics webview's chart data: SeriesPoints (first the stored time series, then one a second)
// reduced to uPlot's columns, one array per line sharing the x array of seconds. A 13-hour run
// sends 47,000 points; past MAX_POINTS every other older point goes, so memory and drawing
// stay bounded while the recent end keeps its full resolution.
import { ERROR_CLASSES, type SeriesPoint } from './messages.js';

const MAX_POINTS = 4000;

/** The lines the charts draw; `error:<class>` are the errors by class. */
export const SERIES_KEYS = [
  'requestsPerSecond',
  'latencyP50',
  'latencyP95',
  'latencyP99',
  'promptTokens',
  'cachedTokens',
  'completionTokens',
  'contextUtilisation',
  'trims',
  'vramUsedMiB',
  ...ERROR_CLASSES.map((name) => `error:${name}` as const),
] as const;
export type SeriesKey = (typeof SERIES_KEYS)[number];

function valueOf(point: SeriesPoint, key: SeriesKey): number | null {
  if (key.startsWith('error:')) return point.errors[key.slice('error:'.length) as keyof SeriesPoint['errors']];
  const value = point[key as Exclude<SeriesKey, `error:${string}`>];
  // Context utilisation is charted in percent.
  return key === 'contextUtilisation' && value !== null ? value * 100 : value;
}

/** A column's latest value, null when it has none: what a legend shows while the cursor is off the chart. */
export function latestValue(column: ArrayLike<number | null | undefined>): number | null {
  for (let index = column.length - 1; index >= 0; index--) {
    const value = column[index];
    if (value !== null && value !== undefined) return value;
  }
  return null;
}

export class SeriesBuffer {
  /** Unix seconds, ascending. */
  x: number[] = [];
  columns = new Map<SeriesKey, Array<number | null>>(SERIES_KEYS.map((key) => [key, []]));

  constructor(private readonly maxPoints = MAX_POINTS) {}

  get length(): number {
    return this.x.length;
  }

  column(key: SeriesKey): Array<number | null> {
    return this.columns.get(key)!;
  }

  /** Starts over from a full series (the snapshot after `ready` or a reconnect). */
  reset(points: readonly SeriesPoint[]): void {
    this.x = [];
    for (const column of this.columns.values()) column.length = 0;
    for (const point of points) this.push(point);
  }

  /** Appends a point; one not later than the last is a repeat (a sample and a snapshot of the same second) and is dropped. */
  push(point: SeriesPoint): boolean {
    const seconds = point.t / 1000;
    if (this.x.length > 0 && seconds <= this.x[this.x.length - 1]!) return false;
    this.x.push(seconds);
    for (const key of SERIES_KEYS) this.column(key).push(valueOf(point, key));
    if (this.x.length > this.maxPoints) this.thin();
    return true;
  }

  /** Whether any point has a value for the line (none for VRAM where the daemon reads no GPU). */
  hasValue(key: SeriesKey): boolean {
    return this.column(key).some((value) => value !== null);
  }

  /** uPlot's data for some of the lines: [x, ...one column each]. */
  data(keys: readonly SeriesKey[]): [number[], ...Array<Array<number | null>>] {
    return [this.x, ...keys.map((key) => this.column(key))];
  }

  /** Halves the older half of the points: drops every other one of them. */
  private thin(): void {
    const half = Math.floor(this.x.length / 2);
    const keep = (_: unknown, index: number): boolean => index >= half || index % 2 === 0;
    this.x = this.x.filter(keep);
    for (const [key, column] of this.columns) this.columns.set(key, column.filter(keep));
  }
}

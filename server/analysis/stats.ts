// Statistics gathered while results stream past: numbers are kept in a growing Float64Array so
// percentiles are exact (170,000 values take 1.4 MB), strings are counted only while they look
// like an enum, and anything else is only counted as present. Also the growing typed arrays
// (Columns) that such numbers and per-row indexes live in: a 170,000-row index of plain arrays
// or objects takes several times the memory.

type TypedArray = Float64Array | Uint32Array | Uint8Array;

/** Typed arrays that grow together, doubling when full. Read them through `arrays` after a
 *  push, since growing replaces them. */
export class Columns<T extends Record<string, TypedArray>> {
  length = 0;
  private capacity: number;

  constructor(readonly arrays: T) {
    this.capacity = Math.min(...Object.values(arrays).map((array) => array.length));
  }

  /** Makes room for one more row and returns its index. */
  push(): number {
    if (this.length === this.capacity) {
      this.capacity *= 2;
      for (const name of Object.keys(this.arrays) as Array<keyof T>) {
        const old = this.arrays[name];
        const grown = new (old.constructor as new (length: number) => T[keyof T])(this.capacity);
        grown.set(old);
        this.arrays[name] = grown;
      }
    }
    return this.length++;
  }
}

export interface Bin {
  /** Inclusive lower edge. */
  from: number;
  /** Exclusive upper edge, except for the last bin, which includes the maximum. */
  to: number;
  count: number;
}

export interface NumberSummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  histogram: Bin[];
}

export const HISTOGRAM_BINS = 10;

export class NumberSeries {
  private readonly values = new Columns({ numbers: new Float64Array(1024) });
  private sum = 0;

  get count(): number {
    return this.values.length;
  }

  add(value: number): void {
    const index = this.values.push();
    this.values.arrays.numbers[index] = value;
    this.sum += value;
  }

  /** Null when no value was added. */
  summary(bins = HISTOGRAM_BINS): NumberSummary | null {
    if (this.count === 0) return null;
    const sorted = this.values.arrays.numbers.slice(0, this.count).sort();
    const min = sorted[0]!;
    const max = sorted[sorted.length - 1]!;
    return {
      count: this.count,
      min,
      max,
      mean: this.sum / this.count,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      histogram: histogram(sorted, bins),
    };
  }
}

/** The p-th percentile of sorted values, interpolating linearly between closest ranks (numpy's default). */
export function percentile(sorted: Float64Array, p: number): number {
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/** Equal-width bins from the minimum to the maximum; a single bin when all values are equal. */
export function histogram(sorted: Float64Array, bins: number): Bin[] {
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  if (min === max) return [{ from: min, to: max, count: sorted.length }];
  const width = (max - min) / bins;
  const result: Bin[] = Array.from({ length: bins }, (_, index) => ({
    from: min + index * width,
    to: index === bins - 1 ? max : min + (index + 1) * width,
    count: 0,
  }));
  for (const value of sorted) result[Math.min(bins - 1, Math.floor((value - min) / width))]!.count++;
  return result;
}

export type FieldSummary =
  | ({ type: 'number' } & NumberSummary)
  | { type: 'enum'; counts: Record<string, number> }
  | { type: 'other'; present: number };

/** A string field with more distinct values than this, or a longer value, is not an enum. */
export const MAX_ENUM_VALUES = 20;
export const MAX_ENUM_LENGTH = 40;

/** One answer field across all answers. Null values count as absent. */
export class FieldStats {
  private present = 0;
  private readonly numbers = new NumberSeries();
  /** Null once a value shows the field is not an enum. */
  private counts: Map<string, number> | null = new Map();

  add(value: unknown): void {
    if (value === null || value === undefined) return;
    this.present++;
    if (typeof value === 'number' && Number.isFinite(value)) {
      this.numbers.add(value);
      return;
    }
    if (!this.counts) return;
    const enumLike = typeof value === 'boolean' || (typeof value === 'string' && value.length <= MAX_ENUM_LENGTH);
    if (!enumLike) {
      this.counts = null;
      return;
    }
    const key = String(value);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (this.counts.size > MAX_ENUM_VALUES) this.counts = null;
  }

  /** A number field holds only numbers; an enum field only short strings or booleans. */
  summary(): FieldSummary {
    const numbers = this.numbers.summary();
    if (numbers && this.numbers.count === this.present) return { type: 'number', ...numbers };
    if (this.counts && this.numbers.count === 0 && this.present > 0) {
      const counts = [...this.counts].sort((a, b) => b[1] - a[1]);
      return { type: 'enum', counts: Object.fromEntries(counts) };
    }
    return { type: 'other', present: this.present };
  }
}

/** A number as people read it: integers as they are, others to 4 significant digits. */
export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

/** Draws bins as rows of █, the longest `width` wide, with each bin's range and count. */
export function renderHistogram(bins: Bin[], width = 40): string[] {
  const labels = bins.map((bin) => (bin.from === bin.to ? formatNumber(bin.from) : `${formatNumber(bin.from)} – ${formatNumber(bin.to)}`));
  const labelWidth = Math.max(...labels.map((label) => label.length));
  const most = Math.max(...bins.map((bin) => bin.count));
  return bins.map((bin, index) => {
    // A bin with any value gets at least one block, so it never looks empty.
    const length = bin.count === 0 ? 0 : Math.max(1, Math.round((bin.count / most) * width));
    return `${labels[index]!.padStart(labelWidth)} │${'█'.repeat(length)} ${bin.count.toLocaleString('en-US')}`;
  });
}

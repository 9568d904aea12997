// Statistics gathered while results stream past: numbers are kept in a growing Float64Array so
// percentiles are exact (170,000 values take 1.4 MB), strings are counted only while they look
// like an enum, and anything else is only counted as present. Only answers that follow the
// batch's schema are counted; without a schema models misbehave (a string "85", 8e+127 from
// random weights), so a field stays a number field when most of its values are numbers, and the
// rest are counted, not allowed to change its type.
// Also the growing typed arrays (Columns) that such numbers and per-row indexes live in: a
// 170,000-row index of plain arrays or objects takes several times the memory.
import { percentile } from '../common/percentile.js';
import { NUMBER } from '../common/csv-cells.js';
import { textOf } from '../common/text-of.js';

type TypedArray = Float64Array | Float32Array | Uint32Array | Uint8Array;

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
        const old = this.arrays[name]!;
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
  /** Values below and above the bins: outliers, when no schema range sets the bins. */
  below: number;
  above: number;
}

/** What the batch's JSON schema says of one answer field, for its summary (the answers are
 *  checked against the whole schema elsewhere, by the one answer check). */
export interface FieldRule {
  /** The schema types it a number or an integer: a number field however few answers hold one. */
  numeric?: boolean;
  /** The histogram's bins span these. */
  minimum?: number;
  maximum?: number;
  /** The allowed values as strings: each is counted, 0 when no answer has it. */
  enum?: string[];
}

export const HISTOGRAM_BINS = 10;

/** A finite number, or a string that is one: a model's "85" means 85, and reads the same in the
 *  CSV. Infinity (JSON's 1e999) is not a number here. */
export function numberOf(value: unknown): number | null {
  const number =
    typeof value === 'number' ? value : typeof value === 'string' && NUMBER.test(value.trim()) ? Number(value) : NaN;
  return Number.isFinite(number) ? number : null;
}

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

  /** Null when no value was added. The bins span the rule's minimum and maximum where it has them. */
  summary(bins = HISTOGRAM_BINS, rule: FieldRule = {}): NumberSummary | null {
    if (this.count === 0) return null;
    const sorted = this.values.arrays.numbers.slice(0, this.count).sort();
    const min = sorted[0]!;
    const max = sorted[sorted.length - 1]!;
    const span = binSpan(sorted);
    return {
      count: this.count,
      min,
      max,
      mean: this.sum / this.count,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      ...histogram(sorted, bins, rule.minimum ?? span.from, rule.maximum ?? span.to),
    };
  }
}

/**
 * The values' min and max without far outliers, which would squeeze every other value into one
 * bin: values past Tukey's far fences (3 spreads beyond the quartiles) are left out. The spread is
 * the interquartile range, but at least the quartiles' magnitude and 1, so that where most values
 * are equal (all 7s but a few 6s and 8s) the neighbours still get bins.
 */
function binSpan(sorted: Float64Array): { from: number; to: number } {
  const [q1, q3] = [percentile(sorted, 25), percentile(sorted, 75)];
  const spread = Math.max(q3 - q1, Math.abs(q1), Math.abs(q3), 1);
  const [low, high] = [q1 - 3 * spread, q3 + 3 * spread];
  // The median lies inside the fences, so both are found.
  return { from: sorted.find((value) => value >= low)!, to: sorted.findLast((value) => value <= high)! };
}

/** Equal-width bins from `min` to `max` (a single bin when they are equal), and the counts of
 *  the values outside them. */
function histogram(
  sorted: Float64Array,
  bins: number,
  min: number,
  max: number,
): { histogram: Bin[]; below: number; above: number } {
  const width = (max - min) / bins;
  const result: Bin[] =
    min === max
      ? [{ from: min, to: max, count: 0 }]
      : Array.from({ length: bins }, (_, index) => ({
          from: min + index * width,
          to: index === bins - 1 ? max : min + (index + 1) * width,
          count: 0,
        }));
  let [below, above] = [0, 0];
  for (const value of sorted) {
    if (value < min) below++;
    else if (value > max) above++;
    else result[min === max ? 0 : Math.min(bins - 1, Math.floor((value - min) / width))]!.count++;
  }
  return { histogram: result, below, above };
}

export type FieldSummary =
  | {
      type: 'number';
      /** Of the numbers; null when no answer holds one. */
      stats: NumberSummary | null;
      /** Present values that are not finite numbers (text, booleans, 1e999). */
      not_number: number;
      /** The schema's minimum and maximum; null when it gives neither. */
      range: { minimum: number | null; maximum: number | null } | null;
    }
  | { type: 'enum'; counts: Record<string, number> }
  | { type: 'other'; present: number };

/** A string field with more distinct values than this, or a longer value, is not an enum. */
export const MAX_ENUM_VALUES = 20;
export const MAX_ENUM_LENGTH = 40;

/** One answer field across the answers that follow the schema. Null values count as absent. */
export class FieldStats {
  private present = 0;
  private readonly numbers = new NumberSeries();
  /** Null once a value shows the field is not an enum. With a schema enum, its values first. */
  private counts: Map<string, number> | null;

  constructor(private readonly rule: FieldRule = {}) {
    this.counts = new Map(rule.enum?.map((value) => [value, 0]));
  }

  add(value: unknown): void {
    if (value === null || value === undefined) return;
    this.present++;
    const number = this.rule.enum ? null : numberOf(value);
    if (number !== null) this.numbers.add(number);
    if (!this.counts) return;
    const enumLike =
      this.rule.enum !== undefined ||
      number !== null ||
      typeof value === 'boolean' ||
      (typeof value === 'string' && value.length <= MAX_ENUM_LENGTH);
    if (!enumLike) {
      this.counts = null;
      return;
    }
    const key = textOf(value);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (!this.rule.enum && this.counts.size > MAX_ENUM_VALUES) this.counts = null;
  }

  /** A number field when the schema says so or most values are numbers (the schema's enum, if
   *  any, makes it an enum field); an enum field when the values are few short strings, booleans
   *  or numbers. */
  summary(): FieldSummary {
    const { present, rule } = this;
    const numeric = this.numbers.count;
    if (!rule.enum && (rule.numeric || numeric * 2 > present)) {
      const bounded = rule.minimum !== undefined || rule.maximum !== undefined;
      const range = bounded ? { minimum: rule.minimum ?? null, maximum: rule.maximum ?? null } : null;
      return {
        type: 'number',
        stats: this.numbers.summary(HISTOGRAM_BINS, rule),
        not_number: present - numeric,
        range,
      };
    }
    if (this.counts && present > 0) {
      const counts = [...this.counts].sort((a, b) => b[1] - a[1]);
      return { type: 'enum', counts: Object.fromEntries(counts) };
    }
    return { type: 'other', present };
  }
}

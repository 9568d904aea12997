// The charts' time axis: ticks a whole step apart, as many as fit the chart's width with room
// between labels, and one label format for all of them chosen by the span shown (seconds for a
// few minutes, hours and minutes for a day, the date as well beyond), so labels never overlap or
// switch format along the axis.

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Steps a reader counts in, in seconds. */
const STEPS = [
  1,
  2,
  5,
  10,
  15,
  30,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
];
/** Room between two labels, in pixels. */
export const LABEL_GAP = 16;

export interface TimeFormat {
  /** For measuring: a label as wide as the widest this format writes. */
  widest: string;
  format: (seconds: number) => string;
}

/** The label format for a span of seconds; `locale` and `timeZone` default to the user's. */
export function timeFormat(spanSeconds: number, locale?: string, timeZone?: string): TimeFormat {
  const options: Intl.DateTimeFormatOptions =
    spanSeconds <= 10 * MINUTE
      ? { hour: '2-digit', minute: '2-digit', second: '2-digit' }
      : spanSeconds < DAY
        ? { hour: '2-digit', minute: '2-digit' }
        : { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  const formatter = new Intl.DateTimeFormat(locale, { ...options, timeZone });
  const format = (seconds: number): string => formatter.format(new Date(seconds * 1000));
  // 12/28 23:58:58: two-digit fields everywhere, and a p.m. where the locale writes one.
  return { widest: format(new Date(2026, 11, 28, 23, 58, 58).getTime() / 1000), format };
}

/**
 * Tick positions (seconds) between min and max: the smallest step that leaves each label
 * `labelWidth + LABEL_GAP` pixels, on whole steps of the local clock.
 * `offsetSeconds` is the local time's offset from UTC (east positive).
 */
export function timeTicks(
  min: number,
  max: number,
  widthPx: number,
  labelWidthPx: number,
  offsetSeconds = 0,
): number[] {
  if (!(max > min) || widthPx <= 0) return Number.isFinite(min) ? [min] : [];
  // The fewest seconds between two ticks whose labels keep apart.
  const least = ((labelWidthPx + LABEL_GAP) * (max - min)) / widthPx;
  const step = STEPS.find((candidate) => candidate >= least) ?? Math.ceil(least / DAY) * DAY;
  const ticks: number[] = [];
  for (let local = Math.ceil((min + offsetSeconds) / step) * step; local - offsetSeconds <= max; local += step)
    ticks.push(local - offsetSeconds);
  // No whole step within a short span on a narrow chart: one label in the middle.
  return ticks.length > 0 ? ticks : [Math.round((min + max) / 2)];
}

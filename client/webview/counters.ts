// The metrics panel's counters that change meaning when the run ends: while it runs, the recent
// pace and the time left; once it is over, the whole run's average pace and its length (the
// last window's pace and "ETA 0s" would say nothing about the run). And the VRAM counter, which
// says so where the daemon never read a GPU rather than staying blank.
import type { MetricsCounters } from './messages.js';
import { formatDuration, formatRate } from './numbers.js';

export const NO_GPU = 'no GPU seen';

/** A value, or a dash while it is unknown. */
export const orDash = <T>(value: T | null, format: (value: T) => string): string =>
  value === null ? '–' : format(value);

export interface PaceCells {
  rateLabel: string;
  rate: string;
  timeLabel: string;
  time: string;
}

export function paceCells(counters: MetricsCounters, over: boolean): PaceCells {
  return over
    ? {
        rateLabel: 'Average req/s',
        rate: orDash(counters.run.requestsPerSecond, formatRate),
        timeLabel: 'Total time',
        // A run shorter than a second is not one of "0s".
        time: counters.run.seconds < 1 ? 'under 1s' : formatDuration(counters.run.seconds),
      }
    : {
        rateLabel: 'Requests/s',
        rate: orDash(counters.requestsPerSecond, formatRate),
        timeLabel: 'ETA',
        time: orDash(counters.etaSeconds, formatDuration),
      };
}

/** "11.7 / 16.0 GiB"; NO_GPU where neither this snapshot nor any point before it had a reading. */
export function vramText(counters: MetricsCounters, seriesHasVram: boolean): string {
  if (counters.vramUsedMiB === null) return seriesHasVram ? '–' : NO_GPU;
  const total = counters.vramTotalMiB === null ? '' : ` / ${(counters.vramTotalMiB / 1024).toFixed(1)}`;
  return `${(counters.vramUsedMiB / 1024).toFixed(1)}${total} GiB`;
}

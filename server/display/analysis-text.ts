// An analysis report's figures as people read them: the CLI's `analyze` and the extension's
// results panel say the same words (numbers, what a field's statistics leave out, histograms).
import type { Bin, FieldSummary } from '../protocol/jobs.js';

/** A number as people read it: integers as they are, others (and huge ones, such as a broken
 *  model's 8e+127) to 4 significant digits. */
export function formatNumber(value: number): string {
  return Number.isSafeInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

/** " (c1, c7, …)": the first custom_ids of `total` values, or '' when none is named. */
export const namedIds = (ids: string[], total: number): string =>
  ids.length > 0 ? ` (${ids.join(', ')}${total > ids.length ? ', …' : ''})` : '';

/**
 * What a field's statistics leave out, as the CLI and the results panel say it, e.g.
 * "3 outside 0–100 (c1, c7, c9), 1 not a number" (`withIds` names the values outside); '' when
 * nothing is.
 */
export function leftOutText(field: FieldSummary, withIds: boolean): string {
  if (field.type === 'other') return '';
  const count = (value: number): string => value.toLocaleString('en-US');
  const { out_of_range: outside } = field;
  const problems: string[] = [];
  if (outside.count > 0) {
    // Only a schema's bound puts a number out of range, so a number field has one here.
    const range = field.type === 'enum' ? 'not allowed by the schema' : rangeText(field.range!);
    problems.push(`${count(outside.count)} ${range}${withIds ? namedIds(outside.custom_ids, outside.count) : ''}`);
  }
  if (field.type === 'number') {
    if (field.not_number > 0) problems.push(`${count(field.not_number)} not a number`);
    if (field.stats?.below) problems.push(`${count(field.stats.below)} far below the bins`);
    if (field.stats?.above) problems.push(`${count(field.stats.above)} far above the bins`);
  }
  return problems.join(', ');
}

function rangeText({ minimum, maximum }: { minimum: number | null; maximum: number | null }): string {
  if (minimum === null) return `above ${formatNumber(maximum!)}`;
  return maximum === null
    ? `below ${formatNumber(minimum)}`
    : `outside ${formatNumber(minimum)}–${formatNumber(maximum)}`;
}

/** Draws bins as rows of █, the longest `width` wide, with each bin's range and count. */
export function renderHistogram(bins: Bin[], width = 40): string[] {
  const labels = bins.map((bin) =>
    bin.from === bin.to ? formatNumber(bin.from) : `${formatNumber(bin.from)} – ${formatNumber(bin.to)}`,
  );
  const labelWidth = Math.max(...labels.map((label) => label.length));
  const most = Math.max(...bins.map((bin) => bin.count));
  return bins.map((bin, index) => {
    // A bin with any value gets at least one block, so it never looks empty.
    const length = bin.count === 0 ? 0 : Math.max(1, Math.round((bin.count / most) * width));
    return `${labels[index]!.padStart(labelWidth)} │${'█'.repeat(length)} ${bin.count.toLocaleString('en-US')}`;
  });
}

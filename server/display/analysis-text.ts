// An analysis report's figures as people read them: the CLI's `analyze` and the extension's
// results panel say the same words (numbers, what a field's statistics leave out, histograms).
import type { AnalysisReport, Bin, FieldSummary, TopRow } from '../protocol/jobs.js';

/** A number as people read it: integers as they are, others (and huge ones, such as a broken
 *  model's 8e+127) to 4 significant digits. */
export function formatNumber(value: number): string {
  return Number.isSafeInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

/** " (c1, c7, …)": the first custom_ids of `total` values, or '' when none is named. */
export const namedIds = (ids: string[], total: number): string =>
  ids.length > 0 ? ` (${ids.join(', ')}${total > ids.length ? ', …' : ''})` : '';

/**
 * What a number field's statistics leave out, as the CLI and the results panel say it, e.g.
 * "1 not a number, 2 far above the bins"; '' when nothing is.
 */
export function leftOutText(field: FieldSummary): string {
  if (field.type !== 'number') return '';
  const count = (value: number): string => value.toLocaleString('en-US');
  const problems: string[] = [];
  if (field.not_number > 0) problems.push(`${count(field.not_number)} not a number`);
  if (field.stats?.below) problems.push(`${count(field.stats.below)} far below the bins`);
  if (field.stats?.above) problems.push(`${count(field.stats.above)} far above the bins`);
  return problems.join(', ');
}

/** The first figure of a report: how many results are answers to trust, e.g. "schema-valid 234 of 1,000". */
export function validText(report: AnalysisReport): string {
  const count = (value: number): string => value.toLocaleString('en-US');
  const { answers } = report;
  const total = report.succeeded + report.failed;
  return answers.schema
    ? `schema-valid ${count(answers.valid)} of ${count(total)}`
    : `parsed ${count(answers.valid)} of ${count(total)} (not checked: no schema; give the batch input)`;
}

/** "partial: 120 of 1,000 lines done, batch in_progress" (of a cascade: "partial: pass 2 …", the pass
 *  that runs); '' for a batch that has ended. */
export function partialText(report: AnalysisReport): string {
  const { partial, cascade } = report;
  if (!partial) return '';
  const count = (value: number): string => value.toLocaleString('en-US');
  if (cascade && !cascade.pass2 && cascade.pass1.status === 'completed')
    return "partial: pass 1 done, pass 2 not made yet (the daemon makes it from pass 1's shortlist)";
  const pass = cascade ? `pass ${cascade.pass2 ? 2 : 1} ` : '';
  return `partial: ${pass}${count(partial.done)} of ${count(partial.total)} lines done, batch ${partial.status}`;
}

/** "cascade (top 10%): pass 1 batch_a scores every row, pass 2 batch_b the shortlist: shortlisted
 *  24, explained 12"; '' for a batch that is no pass of a cascade. */
export function cascadeText(report: AnalysisReport): string {
  const { cascade } = report;
  if (!cascade) return '';
  const count = (value: number): string => value.toLocaleString('en-US');
  const { pass1, pass2 } = cascade;
  const second = pass2
    ? `pass 2 ${pass2.batch_id} the shortlist: shortlisted ${count(cascade.shortlisted)}, explained ${count(cascade.explained)}`
    : pass1.status === 'completed'
      ? 'pass 2 not made yet'
      : `no pass 2 (pass 1 ${pass1.status})`;
  return `cascade (${cascade.shortlist}): pass 1 ${pass1.batch_id} scores every row, ${second}`;
}

/** Said where the answers carry no logprobs, so no score has an expected value. */
export const NO_LOGPROBS_TEXT =
  'no expected scores: the answers carry no logprobs; ask for them with "logprobs": true and "top_logprobs": 5 in the request body';

/** What the ranking's expected scores are, or why there are none; '' when there is no score to weigh. */
export function expectedText(report: AnalysisReport): string {
  const expected = report.expected_scores;
  if (!expected) return report.answers.valid > 0 && report.sort_by !== null ? NO_LOGPROBS_TEXT : '';
  const count = (value: number): string => value.toLocaleString('en-US');
  const without =
    expected.without > 0 ? `; ${count(expected.without)} without logprobs ranked by their ${expected.field}` : '';
  return `ranked by ${expected.columns.expected}: the ${expected.field} weighted by its logprobs, ± ${expected.columns.sd} (${count(expected.rows)} answer${expected.rows === 1 ? '' : 's'})${without}`;
}

/** A score with its expected value, e.g. "85 (84.3 ± 2.1)"; the value alone without one. */
export function scoreText(row: TopRow): string {
  const value = typeof row.value === 'number' ? formatNumber(row.value) : row.value;
  if (row.expected === null || row.sd === null) return value;
  return `${value} (${formatNumber(row.expected)} ± ${formatNumber(row.sd)})`;
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

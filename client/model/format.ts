// How a batch reads in the status bar, the Batches tree and its tooltips. Pure functions of the
// daemon's objects, without `vscode`, so that they are unit-tested.
import type { BatchMetricsSnapshot } from '../../server/protocol/metrics.js';
import { TERMINAL_STATUSES, waitsForResume, type Batch } from '../../server/protocol/openai.js';
import { localTime, statusText, tookText } from '../../server/display/batch-status.js';
import { formatCount, formatDuration, formatRate } from '../webview/numbers.js';

export const isTerminal = (batch: Batch): boolean => TERMINAL_STATUSES.includes(batch.status);

/** Lines finished either way: written to the output or to the error file. */
export const doneCount = (batch: Batch): number => batch.request_counts.completed + batch.request_counts.failed;

/** The running batch's pace, from the daemon's batch/metrics notifications. */
export interface Pace {
  requestsPerSecond: number | null;
  etaSeconds: number | null;
}

export const paceOf = (snapshot: BatchMetricsSnapshot): Pace => ({
  requestsPerSecond: snapshot.performance.window.requestsPerSecond,
  etaSeconds: snapshot.performance.etaSeconds,
});

const progressText = (batch: Batch): string =>
  `${formatCount(doneCount(batch))} / ${formatCount(batch.request_counts.total)}`;

/** "3.9 req/s · ETA 11h", or only the parts that are known. */
function paceText(pace: Pace | undefined): string[] {
  const parts: string[] = [];
  if (pace?.requestsPerSecond) parts.push(`${formatRate(pace.requestsPerSecond)} req/s`);
  if (pace?.etaSeconds !== null && pace?.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(pace.etaSeconds)}`);
  return parts;
}

/** A running batch in one line: "12,345 / 170,000 · 3.9 req/s · ETA 11h". */
export function progressLine(batch: Batch, pace?: Pace): string {
  if (batch.paused_reason) return `${progressText(batch)} · paused`;
  if (batch.status !== 'in_progress') return statusText(batch);
  return [progressText(batch), ...paceText(pace)].join(' · ');
}

/** The status bar while a batch is not over, under its own label: `$(sync~spin) Ollama Batch 12,345 / 170,000 · 3.9 req/s · ETA 11h`. */
export const statusBarText = (batch: Batch, pace?: Pace): string =>
  `${batch.paused_reason ? '$(debug-pause)' : '$(sync~spin)'} Ollama Batch ${progressLine(batch, pace)}`;

/** The tree item's description: progress and ETA while it runs, the outcome once over. */
export function batchDescription(batch: Batch, pace?: Pace): string {
  const { completed, failed } = batch.request_counts;
  if (isTerminal(batch)) {
    const outcome = `${formatCount(completed)} ok${failed > 0 ? `, ${formatCount(failed)} failed` : ''}`;
    return batch.status === 'completed' ? outcome : `${statusText(batch)} · ${outcome}`;
  }
  if (batch.paused_reason) return `${progressText(batch)} · paused`;
  if (batch.status !== 'in_progress') return `${statusText(batch)}…`;
  const eta = pace?.etaSeconds;
  return [progressText(batch), ...(eta === null || eta === undefined ? [] : [`ETA ${formatDuration(eta)}`])].join(
    ' · ',
  );
}

const fileName = (path: string): string => path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);

/**
 * What a batch is called in the tree, tabs and messages: the name of the file it ran (the path
 * the editor or the CLI sent, else the input file's name as the daemon keeps it), "(retry)" for
 * a retry; its id only while no name is known. Ids go in tooltips.
 */
export function batchLabel(batch: Batch, inputFilename?: string): string {
  const path = batch.metadata?.input_path ?? batch.metadata?.source;
  const name = path ? fileName(path) : inputFilename;
  if (!name) return batch.id;
  return batch.metadata?.retry_of ? `${name} (retry)` : name;
}

/** A codicon and the theme colour to tint it with. */
export interface StatusIcon {
  id: string;
  color?: string;
}

export function statusIcon(batch: Batch): StatusIcon {
  if (batch.paused_reason) return { id: 'debug-pause', color: 'editorWarning.foreground' };
  switch (batch.status) {
    case 'validating':
      return { id: 'loading~spin' };
    case 'in_progress':
      return { id: 'sync~spin' };
    case 'finalizing':
      return { id: 'loading~spin' };
    case 'cancelling':
      return { id: 'loading~spin', color: 'editorWarning.foreground' };
    case 'completed':
      return batch.request_counts.failed > 0
        ? { id: 'warning', color: 'editorWarning.foreground' }
        : { id: 'pass', color: 'testing.iconPassed' };
    case 'failed':
      return { id: 'error', color: 'errorForeground' };
    case 'expired':
      return { id: 'watch', color: 'editorWarning.foreground' };
    case 'cancelled':
      return { id: 'circle-slash' };
  }
}

/**
 * The tree item's contextValue: space-separated tags that package.json's menus match with
 * `viewItem =~ /\btag\b/`, so one item can offer several actions.
 */
export function contextValue(batch: Batch): string {
  const tags = ['batch', batch.status];
  if (!isTerminal(batch) && batch.status !== 'cancelling') tags.push('cancellable');
  if (waitsForResume(batch)) tags.push('resumable');
  if (isTerminal(batch) && batch.error_file_id && batch.request_counts.failed > 0) tags.push('retryable');
  if (isTerminal(batch)) tags.push('deletable');
  if (batch.output_file_id) tags.push('output');
  if (batch.error_file_id) tags.push('errors');
  if (batch.metadata?.input_path) tags.push('input');
  return tags.join(' ');
}

const MARKDOWN_SPECIAL = /[\\`*_{}[\]()#+\-.!|<>~]/g;
export const escapeMarkdown = (text: string): string => text.replace(MARKDOWN_SPECIAL, '\\$&');

/** The tree item's tooltip as Markdown: name, status, id, model, counts, tokens, local times, duration and errors. */
export function batchTooltip(batch: Batch, pace?: Pace, inputFilename?: string): string {
  const { total, completed, failed } = batch.request_counts;
  const { usage } = batch;
  const took = tookText(batch);
  const lines = [
    `**${escapeMarkdown(batchLabel(batch, inputFilename))}** · ${statusText(batch)}${took ? ` · ${took}` : ''}`,
    '',
    `Id: ${escapeMarkdown(batch.id)}`,
    `Files: input ${escapeMarkdown(batch.input_file_id)}${batch.output_file_id ? `, output ${escapeMarkdown(batch.output_file_id)}` : ''}${batch.error_file_id ? `, errors ${escapeMarkdown(batch.error_file_id)}` : ''}`,
    `Model: ${batch.model ? escapeMarkdown(batch.model) : 'not known yet'}`,
    `Requests: ${formatCount(completed)} ok, ${formatCount(failed)} failed of ${formatCount(total)}`,
    `Tokens: ${formatCount(usage.input_tokens)} prompt (${formatCount(usage.input_tokens_details.cached_tokens)} cached), ${formatCount(usage.output_tokens)} completion`,
  ];
  const pacing = paceText(isTerminal(batch) ? undefined : pace);
  if (pacing.length > 0) lines.push(`Pace: ${pacing.join(' · ')}`);
  if (batch.paused_reason) lines.push(`Paused: ${escapeMarkdown(batch.paused_reason)}`);
  const times: Array<[string, number | null]> = [
    ['Created', batch.created_at],
    ['Started', batch.in_progress_at],
    ['Completed', batch.completed_at],
    ['Failed', batch.failed_at],
    ['Cancelled', batch.cancelled_at],
    ['Expired', batch.expired_at],
  ];
  for (const [name, at] of times) if (at !== null) lines.push(`${name}: ${localTime(at)}`);
  if (batch.metadata?.input_path) lines.push(`Input: ${escapeMarkdown(batch.metadata.input_path)}`);
  const errors = batch.errors?.data ?? [];
  for (const error of errors.slice(0, 5)) lines.push(`- ${escapeMarkdown(error.message)}`);
  if (errors.length > 5) lines.push(`- … and ${errors.length - 5} more`);
  // Two spaces before a newline make a Markdown line break.
  return lines.join('  \n');
}

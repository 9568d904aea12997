// How the CLI prints batches for people.
import { elapsedText, runDuration } from '../display/batch-status.js';
import type { Batch } from '../protocol/openai.js';

/** en-US grouping, as everywhere the CLI prints a count: "170,000". */
export const count = (value: number): string => value.toLocaleString('en-US');

const time = (seconds: number | null): string =>
  seconds ? new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19) : '-';

export function batchLine(batch: Batch): string {
  const { total, completed, failed } = batch.request_counts;
  const paused = batch.paused_reason ? `  (paused: ${batch.paused_reason})` : '';
  return `${batch.id}  ${batch.status.padEnd(11)}  ${count(completed + failed)}/${count(total)} done, ${count(failed)} failed  ${batch.model ?? ''}  created ${time(batch.created_at)}${paused}`;
}

export function batchDetails(batch: Batch, paths: { output?: string; error?: string } = {}): string {
  const lines = [
    batchLine(batch),
    `  input file:  ${batch.input_file_id}`,
    `  output file: ${batch.output_file_id ?? '-'}${paths.output ? `  ${paths.output}` : ''}`,
    `  error file:  ${batch.error_file_id ?? '-'}${paths.error ? `  ${paths.error}` : ''}`,
    `  tokens:      ${count(batch.usage.input_tokens)} prompt (${count(batch.usage.input_tokens_details.cached_tokens)} cached), ${count(batch.usage.output_tokens)} completion`,
    `  expires:     ${time(batch.expires_at)} (window ${batch.completion_window})`,
  ];
  const took = runDuration(batch);
  if (took !== null) lines.push(`  took:        ${elapsedText(took)}`);
  for (const error of batch.errors?.data ?? [])
    lines.push(`  error: ${error.message} [${error.code}${error.param ? `, ${error.param}` : ''}]`);
  return lines.join('\n');
}

// How the CLI prints batches for people.
import type { VramSnapshot } from '../gpu/vram-monitor.js';
import type { Batch } from '../openai/types.js';

const time = (seconds: number | null): string => (seconds ? new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19) : '-');

export function batchLine(batch: Batch): string {
  const { total, completed, failed } = batch.request_counts;
  const paused = batch.paused_reason ? `  (paused: ${batch.paused_reason})` : '';
  return `${batch.id}  ${batch.status.padEnd(11)}  ${completed + failed}/${total} done, ${failed} failed  ${batch.model ?? ''}  created ${time(batch.created_at)}${paused}`;
}

export function batchDetails(batch: Batch, paths: { output?: string; error?: string } = {}): string {
  const lines = [
    batchLine(batch),
    `  input file:  ${batch.input_file_id}`,
    `  output file: ${batch.output_file_id ?? '-'}${paths.output ? `  ${paths.output}` : ''}`,
    `  error file:  ${batch.error_file_id ?? '-'}${paths.error ? `  ${paths.error}` : ''}`,
    `  tokens:      ${batch.usage.input_tokens} prompt (${batch.usage.input_tokens_details.cached_tokens} cached), ${batch.usage.output_tokens} completion`,
    `  expires:     ${time(batch.expires_at)} (window ${batch.completion_window})`,
  ];
  for (const error of batch.errors?.data ?? []) lines.push(`  error: ${error.message} [${error.code}${error.param ? `, ${error.param}` : ''}]`);
  return lines.join('\n');
}

const GIB = 1024 ** 3;

/** The GPUs and the engine's loaded models, as `status` shows them. */
export function gpuLines(snapshot: VramSnapshot | null): string[] {
  if (!snapshot) return ['GPU: not read yet'];
  const lines: string[] = [];
  if (snapshot.status === 'not-available') lines.push('GPU: not available (no nvidia-smi)');
  else if (snapshot.status === 'error') lines.push(`GPU: ${snapshot.error}`);
  for (const gpu of snapshot.gpus ?? []) {
    const used = gpu.usedMiB === null || gpu.totalMiB === null ? 'memory unknown' : `${(gpu.usedMiB / 1024).toFixed(1)}/${(gpu.totalMiB / 1024).toFixed(1)} GiB (${Math.round((gpu.usedMiB / gpu.totalMiB) * 100)}%)`;
    lines.push(`GPU ${gpu.index} ${gpu.name}: ${used}${gpu.utilizationPercent === null ? '' : `, util ${gpu.utilizationPercent}%`}`);
  }
  if (snapshot.gpus) lines.push(`VRAM pressure ${snapshot.pressure}${snapshot.peakUsedMiB === null ? '' : `, peak ${(snapshot.peakUsedMiB / 1024).toFixed(1)} GiB`}`);
  for (const model of snapshot.models) {
    const inVram = model.sizeBytes > 0 ? Math.round((model.vramBytes / model.sizeBytes) * 100) : 0;
    lines.push(`model ${model.name}: ${(model.sizeBytes / GIB).toFixed(1)} GiB${model.contextLength ? `, num_ctx ${model.contextLength}` : ''}, ${inVram}% in VRAM`);
  }
  if (snapshot.modelsError) lines.push(`Ollama: ${snapshot.modelsError}`);
  for (const warning of snapshot.warnings) lines.push(`warning: ${warning}`);
  return lines;
}

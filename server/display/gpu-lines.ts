// The GPUs and the engine's loaded models as lines for people: the CLI's `status` and the
// extension's Check Engine show the same words (daemon/status carries the snapshot).
import type { GpuSnapshot } from '../protocol/metrics.js';

const GIB = 1024 ** 3;

/** The GPUs and the engine's loaded models, as `status` shows them. */
export function gpuLines(snapshot: GpuSnapshot | null): string[] {
  if (!snapshot) return ['GPU: not read yet'];
  const lines: string[] = [];
  if (snapshot.status === 'not-available') lines.push('GPU: not available (no nvidia-smi)');
  else if (snapshot.status === 'error') lines.push(`GPU: ${snapshot.error}`);
  for (const gpu of snapshot.gpus ?? []) {
    const used =
      gpu.usedMiB === null || gpu.totalMiB === null
        ? 'memory unknown'
        : `${(gpu.usedMiB / 1024).toFixed(1)}/${(gpu.totalMiB / 1024).toFixed(1)} GiB (${Math.round((gpu.usedMiB / gpu.totalMiB) * 100)}%)`;
    lines.push(
      `GPU ${gpu.index} ${gpu.name}: ${used}${gpu.utilizationPercent === null ? '' : `, util ${gpu.utilizationPercent}%`}`,
    );
  }
  if (snapshot.gpus)
    lines.push(
      `VRAM pressure ${snapshot.pressure}${snapshot.peakUsedMiB === null ? '' : `, peak ${(snapshot.peakUsedMiB / 1024).toFixed(1)} GiB`}`,
    );
  for (const model of snapshot.models) {
    const inVram = model.sizeBytes > 0 ? Math.round((model.vramBytes / model.sizeBytes) * 100) : 0;
    lines.push(
      `model ${model.name}: ${(model.sizeBytes / GIB).toFixed(1)} GiB${model.contextLength ? `, num_ctx ${model.contextLength}` : ''}, ${inVram}% in VRAM`,
    );
  }
  if (snapshot.modelsError) lines.push(`Ollama: ${snapshot.modelsError}`);
  for (const warning of snapshot.warnings) lines.push(`warning: ${warning}`);
  return lines;
}

// What num_ctx the GPUs can hold for a model at a concurrency, from a VRAM reading: the room
// under the warning level of every GPU, and the num_ctx the model is loaded with now (a reload at
// another num_ctx releases its cache). context/num-ctx.ts does the KV cache arithmetic.
import { numCtxForKvCache } from '../context/num-ctx.js';
import type { VramSnapshot } from './vram-monitor.js';

const MIB = 1024 * 1024;

export function numCtxForVram(
  snapshot: VramSnapshot | undefined,
  options: { model: string; kvBytesPerToken?: number; slots: number; warningShare: number },
): number | undefined {
  const { kvBytesPerToken, slots } = options;
  if (!snapshot?.gpus?.length || !kvBytesPerToken) return undefined;
  let freeBytes = 0;
  for (const gpu of snapshot.gpus) {
    if (gpu.usedMiB === null || gpu.totalMiB === null) return undefined;
    freeBytes += Math.max(0, options.warningShare * gpu.totalMiB - gpu.usedMiB) * MIB;
  }
  const loaded = snapshot.models.find(
    (model) => model.name === options.model || model.name === `${options.model}:latest`,
  );
  return numCtxForKvCache({
    freeBytes,
    kvBytesPerToken,
    slots,
    ...(loaded?.contextLength && { loadedContextLength: loaded.contextLength }),
  });
}

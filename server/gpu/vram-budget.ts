// What num_ctx the GPUs can hold for a model at a concurrency: the KV cache costs
// kvBytesPerToken × num_ctx per slot, and it must fit under the warning level of VRAM, with the
// model's current cache counted as free (a reload at another num_ctx releases it).
import { MIN_NUM_CTX, NUM_CTX_STEP } from '../context/budget.js';
import type { VramSnapshot } from './vram-monitor.js';

const MIB = 1024 * 1024;

export function numCtxForVram(
  snapshot: VramSnapshot | undefined,
  options: { model: string; kvBytesPerToken?: number; slots: number; warningShare: number },
): number | undefined {
  const { kvBytesPerToken, slots } = options;
  if (!snapshot?.gpus?.length || !kvBytesPerToken) return undefined;
  let free = 0;
  for (const gpu of snapshot.gpus) {
    if (gpu.usedMiB === null || gpu.totalMiB === null) return undefined;
    free += Math.max(0, options.warningShare * gpu.totalMiB - gpu.usedMiB) * MIB;
  }
  const loaded = snapshot.models.find((model) => model.name === options.model || model.name === `${options.model}:latest`);
  if (loaded?.contextLength) free += kvBytesPerToken * loaded.contextLength * slots;
  const tokens = Math.floor(free / (kvBytesPerToken * slots));
  return Math.max(MIN_NUM_CTX, Math.floor(tokens / NUM_CTX_STEP) * NUM_CTX_STEP);
}

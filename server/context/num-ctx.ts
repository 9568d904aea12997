// Every rule and factor that sets a num_ctx (the context window a model is loaded with), named
// in one place: its floor and step and the one way a token count is rounded to it, the answer a
// request without max_tokens is given room for, the choice for a batch within its limits, what a
// batch that ran out of memory teaches the next ones, how far one out-of-memory lowers it, and
// what the KV cache of a num_ctx costs in VRAM. Pure arithmetic: callers pass the numbers in.

/** No num_ctx below this. */
export const MIN_NUM_CTX = 2048;
/** num_ctx is a multiple of this. */
export const NUM_CTX_STEP = 1024;
/** What a line is checked against where no setting or learned limit names a num_ctx (convert's estimate, the editor). */
export const ASSUMED_NUM_CTX = 8192;
/** The embedded engine's context per sequence where the model's own is not smaller and no setting names one. */
export const EMBEDDED_ENGINE_NUM_CTX = 4096;
/** The answer a request that sets no max_tokens is given room for. */
export const DEFAULT_MAX_TOKENS = 1024;
/** Share of what held after an out-of-memory (num_ctx, VRAM) that later batches keep to, for a margin. */
export const LEARNED_LIMIT_SHARE = 0.9;
/** Share of num_ctx kept when one request alone ran out of memory. */
export const OUT_OF_MEMORY_SHARE = 0.75;
/** The calibration probe has room for a tokenizer this many times as wordy as our estimate. */
export const CALIBRATION_PROBE_ROOM = 4;

/** A token count as a num_ctx: rounded up (room for them) or down (within a limit), never under the minimum. */
export function roundNumCtx(tokens: number, direction: 'up' | 'down'): number {
  const steps = direction === 'up' ? Math.ceil(tokens / NUM_CTX_STEP) : Math.floor(tokens / NUM_CTX_STEP);
  return Math.max(MIN_NUM_CTX, steps * NUM_CTX_STEP);
}

export interface NumCtxChoice {
  numCtx: number;
  /** What set it: the batch's own longest request, a setting, or a cap. */
  reason: 'requests' | 'setting' | 'model limit' | 'learned limit' | 'VRAM';
}

/**
 * The smallest num_ctx that holds the longest request and its answer, rounded up (or the
 * setting), within what was learned to be safe, what the VRAM holds, and the model's own limit.
 */
export function chooseNumCtx(options: {
  longestRequest: number;
  setting?: number;
  modelLimit?: number;
  learnedLimit?: number;
  vramLimit?: number;
}): NumCtxChoice {
  let choice: NumCtxChoice =
    options.setting !== undefined
      ? { numCtx: options.setting, reason: 'setting' }
      : { numCtx: roundNumCtx(options.longestRequest, 'up'), reason: 'requests' };
  if (options.learnedLimit !== undefined && choice.numCtx > options.learnedLimit)
    choice = { numCtx: options.learnedLimit, reason: 'learned limit' };
  if (options.vramLimit !== undefined && choice.numCtx > options.vramLimit)
    choice = { numCtx: options.vramLimit, reason: 'VRAM' };
  if (options.modelLimit !== undefined && choice.numCtx > options.modelLimit)
    choice = { numCtx: options.modelLimit, reason: 'model limit' };
  return choice;
}

/** The num_ctx later batches keep to after this one held when num_ctx had to come down. */
export const learnedNumCtx = (held: number): number => roundNumCtx(held * LEARNED_LIMIT_SHARE, 'down');

/** The next num_ctx down after one request alone ran out of memory. */
export const numCtxAfterOutOfMemory = (numCtx: number): number => roundNumCtx(numCtx * OUT_OF_MEMORY_SHARE, 'down');

/** The num_ctx an engine counts a prompt of `estimated` tokens (ours) in while calibrating. */
export const calibrationProbeNumCtx = (estimated: number): number =>
  roundNumCtx(estimated * CALIBRATION_PROBE_ROOM, 'up');

/**
 * The num_ctx whose KV cache fits in `freeBytes` for every slot: each costs kvBytesPerToken ×
 * num_ctx. The cache of the model as loaded now (loadedContextLength) counts as free, since a
 * reload at another num_ctx releases it.
 */
export function numCtxForKvCache(room: {
  freeBytes: number;
  kvBytesPerToken: number;
  slots: number;
  loadedContextLength?: number;
}): number {
  const { kvBytesPerToken, slots } = room;
  const free = room.freeBytes + (room.loadedContextLength ? kvBytesPerToken * room.loadedContextLength * slots : 0);
  return roundNumCtx(Math.floor(free / (kvBytesPerToken * slots)), 'down');
}

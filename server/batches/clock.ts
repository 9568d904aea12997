// The time the batch parts read and the timers they set, passed in so that a test can drive
// them: batches are stamped in whole seconds (OpenAI's Batch object), progress is saved and
// announced on timers, and a batch paused for disk space waits before it looks again.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Clock {
  /** Seconds since the epoch, whole. */
  now(): number;
  /** Calls back after `ms`; the function returned cancels it. */
  after(ms: number, callback: () => void): () => void;
  /** Resolves after `ms`, or as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Math.floor(Date.now() / 1000),
  after: (ms, callback) => {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
};

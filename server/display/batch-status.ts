// How a batch's status and times read for people, in the CLI and the extension alike: "in
// progress", "took 10 m 48 s", local times. The wire keeps OpenAI's status names.
import type { Batch, BatchStatus } from '../protocol/openai.js';

const STATUS_TEXT: Record<BatchStatus, string> = {
  validating: 'validating',
  failed: 'failed',
  in_progress: 'in progress',
  finalizing: 'finalizing',
  completed: 'completed',
  expired: 'expired',
  cancelling: 'cancelling',
  cancelled: 'cancelled',
};

/** "in progress", "paused" for a batch waiting on its engine or a resume, else the status in words. */
export const statusText = (batch: Pick<Batch, 'status' | 'paused_reason'>): string =>
  batch.paused_reason && batch.status === 'in_progress' ? 'paused' : STATUS_TEXT[batch.status];

/** When a batch ended, whichever way: null while it has not. */
export const endedAt = (batch: Batch): number | null =>
  batch.completed_at ?? batch.failed_at ?? batch.cancelled_at ?? batch.expired_at;

/** "10 m 48 s", "2 h 5 m", "3 d 4 h", "45 s": the two largest units, exact to the second. */
export function elapsedText(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const units: Array<[string, number]> = [
    ['d', Math.floor(total / 86_400)],
    ['h', Math.floor(total / 3600) % 24],
    ['m', Math.floor(total / 60) % 60],
    ['s', total % 60],
  ];
  const first = units.findIndex(([, value]) => value > 0);
  if (first === -1) return '0 s';
  return units
    .slice(first, first + 2)
    .filter(([, value]) => value > 0)
    .map(([unit, value]) => `${value} ${unit}`)
    .join(' ');
}

/** How long an ended batch took, from its start (or its creation, if it never started) to its end. */
export function runDuration(batch: Batch): number | null {
  const end = endedAt(batch);
  return end === null ? null : end - (batch.in_progress_at ?? batch.created_at);
}

/** "took 10 m 48 s", or null while the batch has not ended. */
export function tookText(batch: Batch): string | null {
  const seconds = runDuration(batch);
  return seconds === null ? null : `took ${elapsedText(seconds)}`;
}

const two = (value: number): string => String(value).padStart(2, '0');

/** A Unix time in the local time zone: "2026-12-05 09:12:04". */
export function localTime(seconds: number): string {
  const at = new Date(seconds * 1000);
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} ${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
}

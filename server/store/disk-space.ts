// A full disk is a pause, not a death: the data dir's free space, read before a batch runs and
// after a write fails, and the words a paused batch shows until space comes back.
import { statfs } from 'node:fs/promises';

/** Room a run needs before it starts again: db.json several times over and thousands of lines. */
export const MIN_FREE_BYTES = 16 * 1024 ** 2;

/** Bytes an unprivileged process may still write on the file system holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const { bavail, bsize } = await statfs(path);
  return bavail * bsize;
}

/** A write that failed because the disk (or the user's quota) is full. */
export function isDiskFull(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

const mib = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

export const diskFullReason = (free: number): string => `disk full: ${mib(free)} free, ${mib(MIN_FREE_BYTES)} needed`;

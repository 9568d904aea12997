// A batch's metrics over time: one JSON line per sample in a per-batch JSONL file that stays
// under a size bound however long the batch runs. Past maxBytes the file is compacted to every
// other line (its first and last kept), so a 13-hour run keeps its whole span, the older
// stretches at a coarser step. A crash can only tear the last line: the next writer cuts it and
// readers skip it. Compaction writes a temp file and renames it over the old one.
import { appendFile, open, readFile, rename, truncate } from 'node:fs/promises';

export const DEFAULT_MAX_TIME_SERIES_BYTES = 4 * 1024 * 1024;

export type Sample = Record<string, unknown>;

export interface TimeSeriesOptions {
  /** Size past which the file is compacted (default 4 MiB). */
  maxBytes?: number;
}

const NEWLINE = 0x0a;

/** The file's bytes; none when it does not exist yet. */
async function readIfExists(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}

/** Every other line from the first, and the last one, so the span stays whole. */
function everyOther(lines: string[]): string[] {
  return lines.filter((_, index) => index % 2 === 0 || index === lines.length - 1);
}

export class TimeSeriesWriter<T extends object = Sample> {
  private readonly maxBytes: number;
  /** The file's length; null until the first append has looked at the file. */
  private size: number | null = null;
  /** The append before this one: appends run one at a time, in order. */
  private previous: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    options: TimeSeriesOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_TIME_SERIES_BYTES;
  }

  append(sample: T): Promise<void> {
    const line = `${JSON.stringify(sample)}\n`;
    const written = this.previous.then(() => this.write(line));
    this.previous = written.catch(() => undefined);
    return written;
  }

  private async write(line: string): Promise<void> {
    this.size ??= await this.cutTornLine();
    await appendFile(this.path, line, { mode: 0o600 });
    this.size += Buffer.byteLength(line);
    if (this.size > this.maxBytes) this.size = await this.compact();
  }

  /** Cuts what follows the last newline (an append a crash interrupted); returns the length left. */
  private async cutTornLine(): Promise<number> {
    const bytes = await readIfExists(this.path);
    const length = bytes.lastIndexOf(NEWLINE) + 1;
    if (length < bytes.length) await truncate(this.path, length);
    return length;
  }

  /** Halves the lines until the file fits (or only the first and last are left); returns its new length. */
  private async compact(): Promise<number> {
    let lines = (await readFile(this.path, 'utf8')).split('\n').slice(0, -1);
    let text: string;
    do {
      lines = everyOther(lines);
      text = lines.map((line) => `${line}\n`).join('');
    } while (Buffer.byteLength(text) > this.maxBytes && lines.length > 2);
    const temp = `${this.path}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.path);
    return Buffer.byteLength(text);
  }
}

/** The samples of a time-series file, oldest first; a torn last line is left out, a missing file has none. */
export async function readTimeSeries<T = Sample>(path: string): Promise<T[]> {
  const bytes = await readIfExists(path);
  const complete = bytes.subarray(0, bytes.lastIndexOf(NEWLINE) + 1).toString('utf8');
  return complete
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);
}

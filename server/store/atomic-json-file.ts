// db.json written whole or not at all: a temp file beside it, flushed to disk, then renamed over
// it. lowdb's own adapter does the same without the flush, and leaves its temp file behind when
// a write fails (a full disk); this one removes it, and marks each step for the crash tests.
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';
import { durablePoint } from './crash-points.js';

export class AtomicJsonFile<T> implements Adapter<T> {
  private readonly tempPath: string;
  /** The write running or queued last, and one waiting to start (later saves share it). */
  private latest: Promise<void> | null = null;
  private waiting: Promise<void> | null = null;

  constructor(private readonly path: string) {
    this.tempPath = join(dirname(path), `.${basename(path)}.tmp`);
  }

  async read(): Promise<T | null> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Writes take turns; saves asked for while one waits share it, as it writes the newest data. */
  write(data: T): Promise<void> {
    if (this.waiting) return this.waiting;
    const before = this.latest;
    const next = (async () => {
      await before?.catch(() => undefined);
      this.waiting = null;
      await this.writeNow(JSON.stringify(data, null, 2));
    })();
    this.waiting = this.latest = next;
    return next;
  }

  private async writeNow(text: string): Promise<void> {
    try {
      const file = await open(this.tempPath, 'w', 0o600);
      try {
        await file.writeFile(text, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      durablePoint(`${basename(this.path)} written to its temp file`);
      await rename(this.tempPath, this.path);
      durablePoint(`${basename(this.path)} renamed into place`);
    } catch (error) {
      await rm(this.tempPath, { force: true });
      throw error;
    }
  }
}

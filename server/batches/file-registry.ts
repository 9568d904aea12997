// The files the daemon holds: copied in or uploaded, recorded in the store, listed, deleted
// while no unfinished batch uses them (by hand, or when they expire), and where a queued batch's
// input, output and error files are. The bytes live in the data dir's files/ folder; the records
// in db.json.
import { chmod, copyFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { uniqueId } from '../ids/unique-id.js';
import type { Batch, FileObject, FilePurpose } from '../protocol/openai.js';
import { TERMINAL_STATUSES } from '../protocol/openai.js';
import { durablePoint } from '../store/crash-points.js';
import { isDiskFull } from '../store/disk-space.js';
import type { Store, StoredBatch, StoredFile } from '../store/store.js';
import type { Clock } from './clock.js';
import { ServiceError } from './errors.js';
import { pageOf, type ListPage, type PageParams } from './list-page.js';
import type { RunFiles } from './runner.js';

/** How long a file may be kept before it expires, as OpenAI allows: an hour to 30 days. */
const EXPIRY_SECONDS = { min: 3600, max: 30 * 86_400 };
/**
 * The longest the expiry timer waits: a file that expired while a batch still used it is looked
 * at again then, and a long wait is not left to a timer that a suspended machine would stretch.
 */
const EXPIRY_CHECK_MS = 60_000;

/**
 * The seconds of an expiration policy, OpenAI's `{"anchor": "created_at", "seconds": N}`; a
 * ServiceError naming the field (`param`.anchor, `param`.seconds) when it is not one.
 */
export function expirySeconds(policy: unknown, param: string): number {
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy))
    throw new ServiceError(
      'invalid_request',
      `${param} must be an object {"anchor": "created_at", "seconds": N}`,
      param,
    );
  const { anchor, seconds } = policy as Record<string, unknown>;
  if (anchor !== 'created_at')
    throw new ServiceError(
      'invalid_request',
      `${param}.anchor must be "created_at", got ${JSON.stringify(anchor ?? null)}`,
      `${param}.anchor`,
    );
  if (
    !Number.isInteger(seconds) ||
    (seconds as number) < EXPIRY_SECONDS.min ||
    (seconds as number) > EXPIRY_SECONDS.max
  )
    throw new ServiceError(
      'invalid_request',
      `${param}.seconds must be a whole number from ${EXPIRY_SECONDS.min} (an hour) to ${EXPIRY_SECONDS.max} (30 days), got ${JSON.stringify(seconds ?? null)}`,
      `${param}.seconds`,
    );
  return seconds as number;
}

/** The public File object, without where the daemon keeps its bytes. */
export function publicFile({ path: _path, ...file }: StoredFile): FileObject {
  return file;
}

export type NewFile = Omit<StoredFile, 'object' | 'created_at' | 'expires_at'> & {
  /** Seconds from its creation until the daemon deletes it; kept until deleted without. */
  expiresAfter?: number;
};

export class FileRegistry {
  private expiryOn = false;
  private cancelExpiry: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Copies a local file into the data dir, so later edits of the original cannot change a batch. */
  async register(params: { path: string; purpose?: FilePurpose; filename?: string }): Promise<FileObject> {
    const purpose = params.purpose ?? 'batch';
    if (purpose !== 'batch')
      throw new ServiceError('invalid_request', `purpose must be "batch", got ${JSON.stringify(purpose)}`, 'purpose');
    const info = await stat(params.path).catch(() => null);
    if (!info?.isFile()) throw new ServiceError('not_found', `no such file: ${params.path}`, 'path');
    const { id, path } = this.newPath();
    try {
      await copyFile(params.path, path);
      await chmod(path, 0o600); // a copy keeps its source's mode; the data dir's files are its user's alone
      durablePoint('an input file copied into the data dir');
      return await this.add({
        id,
        path,
        bytes: info.size,
        filename: params.filename ?? basename(params.path),
        purpose,
      });
    } catch (error) {
      await rm(path, { force: true }); // a copy cut short by a full disk, or one left without a record
      throw isDiskFull(error)
        ? new ServiceError(
            'disk_full',
            `${params.path} could not be copied into the data dir: ${(error as Error).message}`,
          )
        : error;
    }
  }

  /** Records a file whose bytes are already in the data dir (an upload, a batch's output). */
  async add(file: NewFile): Promise<FileObject> {
    const stored = this.record(file);
    await this.store.save().catch((error: unknown) => {
      // Not saved, not recorded: the caller removes the bytes and hears why.
      this.store.data.files = this.store.data.files.filter((each) => each !== stored);
      throw isDiskFull(error)
        ? new ServiceError('disk_full', `the file could not be recorded: ${(error as Error).message}`)
        : error;
    });
    if (stored.expires_at !== null) this.scheduleExpiry();
    return publicFile(stored);
  }

  /** Adds a file's record without saving: the caller saves it with the change it belongs to. */
  record(file: NewFile): StoredFile {
    const now = this.clock.now();
    const stored: StoredFile = {
      id: file.id,
      object: 'file',
      bytes: file.bytes,
      created_at: now,
      expires_at: file.expiresAfter === undefined ? null : now + file.expiresAfter,
      filename: file.filename,
      purpose: file.purpose,
      path: file.path,
    };
    this.store.data.files.push(stored);
    return stored;
  }

  /** A new file id and where its bytes go. */
  newPath(): { id: string; path: string } {
    const id = uniqueId('file-');
    return { id, path: join(this.store.filesDir, `${id}.jsonl`) };
  }

  get(id: string): StoredFile {
    const file = this.store.file(id);
    if (!file) throw new ServiceError('not_found', `No file with id ${JSON.stringify(id)}`, 'file_id');
    return file;
  }

  /** Deletes a file, unless a batch that has not ended reads or writes it. */
  async delete(id: string): Promise<{ id: string; object: 'file'; deleted: true }> {
    const file = this.get(id);
    const user = this.unfinishedUser(id);
    if (user)
      throw new ServiceError(
        'conflict',
        `File ${id} is used by batch ${user.batch.id}, which is ${user.batch.status}; cancel it or wait for it to end`,
        'file_id',
      );
    await this.remove(file);
    return { id, object: 'file', deleted: true };
  }

  /** Newest first unless `order` says otherwise, of one purpose if given, a page at a time. */
  list(params: PageParams & { purpose?: FilePurpose } = {}): ListPage<FileObject> {
    const { purpose, ...paging } = params;
    const files = this.store.data.files.filter((file) => purpose === undefined || file.purpose === purpose);
    const page = pageOf(files, paging, { what: 'file', max: 10_000, default: 10_000 });
    return { ...page, data: page.data.map(publicFile) };
  }

  /** Deletes the files that expired while the daemon was down, then each as its time comes. */
  async startExpiry(): Promise<void> {
    this.expiryOn = true;
    await this.expire();
  }

  stopExpiry(): void {
    this.expiryOn = false;
    this.cancelExpiry?.();
  }

  /**
   * Deletes every file past its expires_at that no unfinished batch uses (one that is used goes
   * once its batch has ended), then sets the timer for the next. A failure (db.json cannot be
   * written) leaves the file to the next look.
   */
  private async expire(): Promise<void> {
    const now = this.clock.now();
    const expired = this.store.data.files.filter(
      (file) => file.expires_at !== null && file.expires_at <= now && !this.unfinishedUser(file.id),
    );
    try {
      for (const file of expired) await this.remove(file);
    } finally {
      this.scheduleExpiry();
    }
  }

  /** Sets the expiry timer for the next file to expire (at most EXPIRY_CHECK_MS away), if any will. */
  private scheduleExpiry(): void {
    this.cancelExpiry?.();
    this.cancelExpiry = undefined;
    if (!this.expiryOn) return;
    const next = Math.min(...this.store.data.files.map((file) => file.expires_at ?? Infinity));
    if (next === Infinity) return;
    const wait = next - this.clock.now();
    // One already due is in use by a batch: looked at again after the longest wait.
    const ms = wait > 0 ? Math.min(wait * 1000, EXPIRY_CHECK_MS) : EXPIRY_CHECK_MS;
    this.cancelExpiry = this.clock.after(ms, () => void this.expire().catch(() => undefined));
  }

  /** Deletes those of these files that no batch uses any more (after a batch was deleted). */
  async removeUnused(ids: ReadonlyArray<string | null>): Promise<void> {
    for (const id of ids) {
      const file = id === null ? undefined : this.store.file(id);
      const used = this.store.data.batches.some(({ batch }) =>
        [batch.input_file_id, batch.output_file_id, batch.error_file_id].includes(id),
      );
      if (file && !used) await this.remove(file);
    }
  }

  /** The batch that has not ended and reads or writes the file, if any. */
  private unfinishedUser(id: string): StoredBatch | undefined {
    return this.store.data.batches.find(
      ({ batch }) =>
        !TERMINAL_STATUSES.includes(batch.status) &&
        [batch.input_file_id, batch.output_file_id, batch.error_file_id].includes(id),
    );
  }

  /** Forgets the file, then removes its bytes: a crash between the two leaves a leftover that the next start removes. */
  private async remove(file: StoredFile): Promise<void> {
    this.store.data.files = this.store.data.files.filter((entry) => entry !== file);
    await this.store.save();
    await rm(file.path, { force: true });
  }

  /** Where a queued batch's files are; throws what is missing, for a batch no run can resume. */
  async runFiles(batch: Batch): Promise<RunFiles> {
    const stored = (role: string, id: string | null): StoredFile => {
      const file = id === null ? undefined : this.store.file(id);
      if (!file) throw new Error(`its ${role} file ${id ?? '(none)'} has no record in the data dir's db.json`);
      return file;
    };
    const input = stored('input', batch.input_file_id);
    if (!(await stat(input.path).catch(() => null))?.isFile())
      throw new Error(`its input file ${input.id} is missing from the data dir (${input.path})`);
    return {
      input: input.path,
      output: stored('output', batch.output_file_id).path,
      error: stored('error', batch.error_file_id).path,
    };
  }

  /**
   * Settles an ended batch's output and error files, before the change that ends it is saved:
   * records their sizes, drops one that stayed empty (OpenAI leaves output_file_id or
   * error_file_id null when no line went there), and dates the others by the batch's
   * output_expires_after, counted from now, when they are complete (OpenAI makes them then).
   */
  async finishOutputs(entry: StoredBatch): Promise<void> {
    const { batch } = entry;
    for (const role of ['output_file_id', 'error_file_id'] as const) {
      const id = batch[role];
      if (id === null) continue;
      const file = this.get(id);
      file.bytes = (await stat(file.path)).size;
      if (file.bytes === 0) {
        // Removed before the batch's change is saved: should the daemon stop between the two, the
        // batch is resumed, its journal recreated empty, and settled again.
        batch[role] = null;
        this.store.data.files = this.store.data.files.filter((each) => each !== file);
        await rm(file.path, { force: true });
      } else if (entry.outputExpiresAfter !== undefined) {
        file.expires_at = this.clock.now() + entry.outputExpiresAfter;
      }
    }
    if (entry.outputExpiresAfter !== undefined) this.scheduleExpiry();
  }
}

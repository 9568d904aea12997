// The files the daemon holds: copied in or uploaded, recorded in the store, listed, deleted
// while no unfinished batch uses them, and where a queued batch's input, output and error files
// are. The bytes live in the data dir's files/ folder; the records in db.json.
import { chmod, copyFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { uniqueId } from '../ids/unique-id.js';
import type { Batch, FileObject, FilePurpose } from '../protocol/openai.js';
import { TERMINAL_STATUSES } from '../protocol/openai.js';
import { durablePoint } from '../store/crash-points.js';
import { isDiskFull } from '../store/disk-space.js';
import type { Store, StoredFile } from '../store/store.js';
import type { Clock } from './clock.js';
import { ServiceError } from './errors.js';
import type { RunFiles } from './runner.js';

/** The public File object, without where the daemon keeps its bytes. */
export function publicFile({ path: _path, ...file }: StoredFile): FileObject {
  return file;
}

export type NewFile = Omit<StoredFile, 'object' | 'created_at'>;

export class FileRegistry {
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
    return publicFile(stored);
  }

  /** Adds a file's record without saving: the caller saves it with the change it belongs to. */
  record(file: NewFile): StoredFile {
    const stored: StoredFile = {
      id: file.id,
      object: 'file',
      bytes: file.bytes,
      created_at: this.clock.now(),
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
    const user = this.store.data.batches.find(
      ({ batch }) =>
        !TERMINAL_STATUSES.includes(batch.status) &&
        [batch.input_file_id, batch.output_file_id, batch.error_file_id].includes(id),
    );
    if (user)
      throw new ServiceError(
        'conflict',
        `File ${id} is used by batch ${user.batch.id}, which is ${user.batch.status}; cancel it or wait for it to end`,
        'file_id',
      );
    this.store.data.files = this.store.data.files.filter((entry) => entry !== file);
    await this.store.save();
    await rm(file.path, { force: true });
    return { id, object: 'file', deleted: true };
  }

  list(): FileObject[] {
    return this.store.data.files.map(publicFile);
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

  /** Records the final sizes of a finished batch's output and error files. */
  async measureOutputs(batch: Batch): Promise<void> {
    await Promise.all(
      [batch.output_file_id!, batch.error_file_id!].map(async (id) => {
        const file = this.get(id);
        file.bytes = (await stat(file.path)).size;
      }),
    );
  }
}

// The batch service: every operation on files and batches, once. The JSON-RPC socket and the
// HTTP API are thin transports over it. Batches run one at a time, oldest first.
import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWriteStream } from 'node:fs';
import { chmod, copyFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Engine, ModelFacts } from '../engines/engine.js';
import { numCtxForVram } from '../gpu/vram-budget.js';
import { uniqueId } from '../ids/unique-id.js';
import type { Batch, BatchError, FileObject, FilePurpose } from '../protocol/openai.js';
import { TERMINAL_STATUSES } from '../protocol/openai.js';
import { readLines } from '../jsonl/lines.js';
import { durablePoint } from '../store/crash-points.js';
import { diskFullReason, freeBytes, isDiskFull, MIN_FREE_BYTES } from '../store/disk-space.js';
import type { BatchRunOptions, LearnedLimits, ModelStats, Store, StoredBatch, StoredFile } from '../store/store.js';
import { ServiceError } from './errors.js';
import { MIN_NUM_CTX, NUM_CTX_STEP } from '../context/budget.js';
import { Calibration } from '../context/calibration.js';
import { BATCH_MODES, type BatchMode } from '../context/conversation.js';
import { TRIM_STRATEGIES, type TrimStrategy } from '../context/trim.js';
import { DEFAULT_WARNING_SHARE, type VramSnapshot } from '../gpu/vram-monitor.js';
import type { BatchMetricsSnapshot } from '../metrics/batch-metrics.js';
import { readTimeSeries, type Sample } from '../metrics/time-series.js';
import { calibrateOn, planNumCtx, RequestMeasure } from './context-plan.js';
import { LiveBatchMetrics, restoreMetrics, timeSeriesPath } from './live-metrics.js';
import { BatchRun, DEFAULT_RUNNER_OPTIONS, type Adjustment, type RunFiles, type RunOutcome, type RunnerOptions, type RunProgress } from './runner.js';
import { SUPPORTED_ENDPOINTS, validateBatchFile, type ValidationLimits } from './validate.js';
import { DEFAULT_COMPLETION_WINDOW, windowSeconds } from './window.js';

export interface ServiceSettings extends Partial<Omit<RunnerOptions, 'concurrency' | 'context'>> {
  /** Requests in flight; default: the engine's slots where it tells them, else 4. */
  concurrency?: number;
  /** How conversations over the context are trimmed (default sliding-window). */
  trimStrategy?: TrimStrategy;
  aggressiveFraction?: number;
  /** Trimming may cut inside a message (off by default). */
  trimAllowCut?: boolean;
  /** independent (default) or conversation (the prototype's way, to measure against). */
  mode?: BatchMode;
  /** Conversation mode: trim every this many requests as well as at the threshold. */
  trimEvery?: number;
  /** A fresh VRAM reading, to size num_ctx to what the GPUs hold (none: no VRAM cap). */
  vram?: () => Promise<VramSnapshot | undefined>;
  vramWarningShare?: number;
  /** Names the GPUs limits are learned for (default: one machine, "default"). */
  hardware?: () => string;
  validation?: Partial<ValidationLimits>;
  /** How often progress is persisted and announced while a batch runs. */
  progressIntervalMs?: number;
}

export interface CreateBatchParams {
  input_file_id: string;
  endpoint?: string;
  completion_window?: string;
  metadata?: Record<string, string> | null;
  options?: BatchRunOptions;
}

export interface ListParams {
  limit?: number;
  after?: string;
}

export interface BatchList {
  object: 'list';
  data: Batch[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export const DEFAULT_CONCURRENCY = 4;
const METADATA_LIMITS = { pairs: 16, key: 64, value: 512 };
const NEWLINE = Buffer.from('\n');

const now = (): number => Math.floor(Date.now() / 1000);
/** How often a batch paused for disk space looks again. */
const DISK_POLL_MS = 2000;
const DISK_FULL = 'disk full';
/** A completed run shorter than this says too little about a model's pace. */
const MIN_REQUESTS_TO_LEARN = 20;

/** The public File object, without where the daemon keeps its bytes. */
export function publicFile({ path: _path, ...file }: StoredFile): FileObject {
  return file;
}

export interface ServiceEvents {
  changed: [Batch];
  answered: [seconds: number];
  /** A limit the running batch changed by itself. */
  adjusted: [batchId: string, adjustment: Adjustment];
  /** Something for the daemon's log. */
  log: [level: 'info' | 'warn', message: string];
  /** The running batch's metrics, every second. */
  metrics: [batchId: string, snapshot: BatchMetricsSnapshot];
}

/** A batch's metrics, and its time series when asked for. */
export interface BatchMetricsReport {
  id: string;
  snapshot: BatchMetricsSnapshot;
  series?: Sample[];
}

export class BatchService extends EventEmitter<ServiceEvents> {
  private running: { id: string; run: BatchRun; finished: Promise<unknown> } | null = null;
  private pumping = false;
  private closed = false;
  private saveTimer: NodeJS.Timeout | undefined;
  /** Aborted by close(): ends waits such as the one for disk space. */
  private readonly closing = new AbortController();
  private readonly announceTimers = new Map<string, NodeJS.Timeout>();
  private pressure: 'normal' | 'warning' | 'critical' = 'normal';
  private live: { entry: StoredBatch; metrics: LiveBatchMetrics } | null = null;

  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly settings: ServiceSettings = {},
  ) {
    super();
  }

  /** Picks up where the last daemon stopped: revalidates, resumes and finishes batches. */
  async start(): Promise<void> {
    for (const entry of this.store.data.batches) {
      const { status, output_file_id } = entry.batch;
      if (status === 'validating' || (status === 'cancelling' && !output_file_id)) this.background(entry, this.validate(entry));
    }
    void this.pump();
  }

  /**
   * Work that nobody awaits: whatever it throws fails its batch with an internal_error that
   * says what happened, and the daemon goes on serving the others.
   */
  private background(entry: StoredBatch, work: Promise<void>): void {
    work.catch((error: unknown) => this.failBatch(entry, error));
  }

  private async failBatch(entry: StoredBatch, error: unknown): Promise<void> {
    const { batch } = entry;
    const message = error instanceof Error ? error.message : String(error);
    this.emit('log', 'warn', `${batch.id} cannot go on and is marked failed: ${message}`);
    if (TERMINAL_STATUSES.includes(batch.status)) return;
    batch.status = 'failed';
    batch.failed_at = now();
    batch.paused_reason = null;
    batch.errors = { object: 'list', data: [{ code: 'internal_error', message: `the batch cannot go on: ${message}`, param: null, line: null }] };
    await this.changed(entry).catch((saveError: unknown) => this.emit('log', 'warn', `${batch.id}: could not save its failure: ${(saveError as Error).message}`));
  }

  /** Stops at once; a running batch is interrupted, not cancelled, and resumes at the next start. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    const running = this.running;
    running?.run.stop('interrupted');
    await running?.finished;
    clearTimeout(this.saveTimer);
    for (const timer of this.announceTimers.values()) clearTimeout(timer);
    await this.store.save();
  }

  // ---- files

  /** Copies a local file into the data dir, so later edits of the original cannot change a batch. */
  async registerFile(params: { path: string; purpose?: FilePurpose; filename?: string }): Promise<FileObject> {
    const purpose = params.purpose ?? 'batch';
    if (purpose !== 'batch') throw new ServiceError('invalid_request', `purpose must be "batch", got ${JSON.stringify(purpose)}`, 'purpose');
    const info = await stat(params.path).catch(() => null);
    if (!info?.isFile()) throw new ServiceError('not_found', `no such file: ${params.path}`, 'path');
    const id = uniqueId('file-');
    const path = join(this.store.filesDir, `${id}.jsonl`);
    try {
      await copyFile(params.path, path);
      await chmod(path, 0o600); // a copy keeps its source's mode; the data dir's files are its user's alone
      durablePoint('an input file copied into the data dir');
      return await this.addFile({ id, path, bytes: info.size, filename: params.filename ?? basename(params.path), purpose });
    } catch (error) {
      await rm(path, { force: true }); // a copy cut short by a full disk, or one left without a record
      throw isDiskFull(error) ? new ServiceError('disk_full', `${params.path} could not be copied into the data dir: ${(error as Error).message}`) : error;
    }
  }

  /** Records a file whose bytes are already in the data dir (an upload, a batch's output). */
  async addFile(file: Omit<StoredFile, 'object' | 'created_at'>): Promise<FileObject> {
    const stored = this.recordFile(file);
    await this.store.save().catch((error: unknown) => {
      // Not saved, not recorded: the caller removes the bytes and hears why.
      this.store.data.files = this.store.data.files.filter((each) => each !== stored);
      throw isDiskFull(error) ? new ServiceError('disk_full', `the file could not be recorded: ${(error as Error).message}`) : error;
    });
    return publicFile(stored);
  }

  /** Adds a file's record without saving: the caller saves it with the change it belongs to. */
  private recordFile(file: Omit<StoredFile, 'object' | 'created_at'>): StoredFile {
    const stored: StoredFile = { id: file.id, object: 'file', bytes: file.bytes, created_at: now(), filename: file.filename, purpose: file.purpose, path: file.path };
    this.store.data.files.push(stored);
    return stored;
  }

  newFilePath(): { id: string; path: string } {
    const id = uniqueId('file-');
    return { id, path: join(this.store.filesDir, `${id}.jsonl`) };
  }

  getFile(id: string): StoredFile {
    const file = this.store.file(id);
    if (!file) throw new ServiceError('not_found', `No file with id ${JSON.stringify(id)}`, 'file_id');
    return file;
  }

  /** Deletes a file, unless a batch that has not ended reads or writes it. */
  async deleteFile(id: string): Promise<{ id: string; object: 'file'; deleted: true }> {
    const file = this.getFile(id);
    const user = this.store.data.batches.find(
      ({ batch }) => !TERMINAL_STATUSES.includes(batch.status) && [batch.input_file_id, batch.output_file_id, batch.error_file_id].includes(id),
    );
    if (user) throw new ServiceError('conflict', `File ${id} is used by batch ${user.batch.id}, which is ${user.batch.status}; cancel it or wait for it to end`, 'file_id');
    this.store.data.files = this.store.data.files.filter((entry) => entry !== file);
    await this.store.save();
    await rm(file.path, { force: true });
    return { id, object: 'file', deleted: true };
  }

  listFiles(): FileObject[] {
    return this.store.data.files.map(publicFile);
  }

  // ---- batches

  async createBatch(params: CreateBatchParams): Promise<Batch> {
    const endpoint = params.endpoint ?? SUPPORTED_ENDPOINTS[0]!;
    if (!SUPPORTED_ENDPOINTS.includes(endpoint)) {
      throw new ServiceError('invalid_request', `endpoint must be one of ${SUPPORTED_ENDPOINTS.join(', ')}; got ${JSON.stringify(endpoint)}`, 'endpoint');
    }
    const window = params.completion_window ?? DEFAULT_COMPLETION_WINDOW;
    const windowLength = windowSeconds(window);
    checkMetadata(params.metadata ?? null);
    const runOptions = { ...runOptionsOf(params.metadata), ...params.options };
    checkRunOptions(runOptions);
    const file = this.getFile(params.input_file_id);
    if (file.purpose !== 'batch') {
      throw new ServiceError('invalid_request', `file ${file.id} has purpose ${file.purpose}; a batch needs purpose "batch"`, 'input_file_id');
    }
    const created = now();
    const entry: StoredBatch = {
      batch: {
        id: uniqueId('batch_'),
        object: 'batch',
        endpoint,
        model: null,
        errors: null,
        input_file_id: file.id,
        completion_window: window,
        status: 'validating',
        output_file_id: null,
        error_file_id: null,
        created_at: created,
        in_progress_at: null,
        expires_at: created + windowLength,
        finalizing_at: null,
        completed_at: null,
        failed_at: null,
        expired_at: null,
        cancelling_at: null,
        cancelled_at: null,
        request_counts: { total: 0, completed: 0, failed: 0 },
        usage: { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 },
        metadata: params.metadata ?? null,
        paused_reason: null,
      },
      options: runOptions,
    };
    this.store.data.batches.push(entry);
    await this.changed(entry).catch((error: unknown) => {
      // Not saved, not created: the caller hears why (507 for a full disk) and nothing half-made stays.
      this.store.data.batches = this.store.data.batches.filter((each) => each !== entry);
      throw isDiskFull(error) ? new ServiceError('disk_full', `the batch could not be saved: ${(error as Error).message}`) : error;
    });
    this.background(entry, this.validate(entry));
    return structuredClone(entry.batch);
  }

  /** Every batch as stored (not copies): for read-only summaries such as metrics. */
  allBatches(): readonly Batch[] {
    return this.store.data.batches.map((entry) => entry.batch);
  }

  getBatch(id: string): Batch {
    return structuredClone(this.entry(id).batch);
  }

  /** Newest first, with OpenAI's cursor paging. */
  listBatches(params: ListParams = {}): BatchList {
    const limit = params.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ServiceError('invalid_request', 'limit must be an integer from 1 to 100', 'limit');
    const all = this.store.data.batches.map((entry) => entry.batch).reverse();
    let start = 0;
    if (params.after !== undefined) {
      start = all.findIndex((batch) => batch.id === params.after) + 1;
      if (start === 0) throw new ServiceError('not_found', `No batch with id ${JSON.stringify(params.after)}`, 'after');
    }
    const data = all.slice(start, start + limit).map((batch) => structuredClone(batch));
    return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < all.length };
  }

  async cancelBatch(id: string): Promise<Batch> {
    const entry = this.entry(id);
    const { batch } = entry;
    if (TERMINAL_STATUSES.includes(batch.status)) {
      throw new ServiceError('conflict', `Batch ${id} is ${batch.status} and cannot be cancelled`, 'batch_id');
    }
    if (batch.status !== 'cancelling') {
      batch.status = 'cancelling';
      batch.cancelling_at = now();
      await this.changed(entry);
    }
    if (this.running?.id === id) this.running.run.stop('cancelled');
    else void this.pump();
    return structuredClone(batch);
  }

  /**
   * A new batch of the lines of a finished batch that failed (error lines, cancelled and
   * expired ones included), with the same endpoint, window and run options.
   */
  async retryBatch(id: string): Promise<Batch> {
    const { batch, options } = this.entry(id);
    if (!TERMINAL_STATUSES.includes(batch.status)) throw new ServiceError('conflict', `Batch ${id} is ${batch.status}; retry it once it has ended`, 'batch_id');
    const failed = new Set<string>();
    if (batch.error_file_id && this.store.file(batch.error_file_id)) {
      for await (const { bytes } of readLines(this.getFile(batch.error_file_id).path)) {
        if (bytes && bytes.length > 0) failed.add((JSON.parse(bytes.toString('utf8')) as { custom_id: string }).custom_id);
      }
    }
    if (failed.size === 0) throw new ServiceError('conflict', `Batch ${id} has no failed lines to retry`, 'batch_id');
    const input = this.getFile(batch.input_file_id);
    const retry = this.newFilePath();
    const out = createWriteStream(retry.path, { mode: 0o600 });
    let bytes = 0;
    for await (const line of readLines(input.path)) {
      if (!line.bytes || line.bytes.length === 0) continue;
      const customId = (JSON.parse(line.bytes.toString('utf8')) as { custom_id: string }).custom_id;
      if (!failed.has(customId)) continue;
      bytes += line.bytes.length + 1;
      if (!out.write(Buffer.concat([line.bytes, NEWLINE]))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    await this.addFile({ ...retry, bytes, filename: `${batch.id}_retry.jsonl`, purpose: 'batch' });
    return this.createBatch({
      input_file_id: retry.id,
      endpoint: batch.endpoint,
      completion_window: batch.completion_window,
      metadata: { ...batch.metadata, retry_of: batch.id },
      options,
    });
  }

  /** What the daemon learned about a model from earlier batches (for estimates). */
  modelStats(model: string): ModelStats {
    return { ...this.store.data.models[model] };
  }

  /** VRAM pressure, from the daemon's monitor: the running batch adapts (runner.setPressure). */
  setPressure(level: 'normal' | 'warning' | 'critical'): void {
    this.pressure = level;
    this.running?.run.setPressure(level);
  }

  /** A VRAM reading from the daemon's monitor, for the running batch's metrics. */
  vramReading(snapshot: VramSnapshot): void {
    this.live?.metrics.vram(snapshot);
  }

  /** A batch's metrics: live while it runs, as kept once it has run; its time series on request. */
  async getMetrics(id: string, withSeries = false): Promise<BatchMetricsReport> {
    const entry = this.entry(id);
    const report: BatchMetricsReport = { id, snapshot: this.metricsOf(entry) };
    if (withSeries) report.series = await readTimeSeries(timeSeriesPath(this.store.metricsDir, id));
    return report;
  }

  /** Every batch's metrics snapshot (for the Prometheus endpoint). */
  allMetrics(): BatchMetricsReport[] {
    return this.store.data.batches.map((entry) => ({ id: entry.batch.id, snapshot: this.metricsOf(entry) }));
  }

  private metricsOf(entry: StoredBatch): BatchMetricsSnapshot {
    return this.live?.entry === entry ? this.live.metrics.metrics.snapshot() : restoreMetrics(entry.metrics).snapshot();
  }

  /** The running batch's id, if any. */
  get runningBatchId(): string | null {
    return this.running?.id ?? null;
  }

  // ---- lifecycle

  private entry(id: string): StoredBatch {
    const entry = this.store.batch(id);
    if (!entry) throw new ServiceError('not_found', `No batch with id ${JSON.stringify(id)}`, 'batch_id');
    return entry;
  }

  private async validate(entry: StoredBatch): Promise<void> {
    const { batch } = entry;
    const file = this.store.file(batch.input_file_id);
    let errors: BatchError[];
    let report: Awaited<ReturnType<typeof validateBatchFile>> | null = null;
    if (!file) {
      errors = [{ code: 'file_not_found', message: `input file ${batch.input_file_id} no longer exists`, param: 'input_file_id', line: null }];
    } else {
      const measure = new RequestMeasure();
      report = await validateBatchFile(file.path, { displayName: file.filename, endpoint: batch.endpoint, limits: this.settings.validation, onRequest: measure.onRequest });
      errors = report.errors;
      entry.measured = measure.measured;
    }
    if (batch.status === 'cancelling') {
      // Cancelled while validating: no request was ever queued.
      batch.status = 'cancelled';
      batch.cancelled_at = now();
      return this.changed(entry);
    }
    if (errors.length > 0 || !report) {
      batch.status = 'failed';
      batch.failed_at = now();
      batch.errors = { object: 'list', data: errors };
      return this.changed(entry);
    }
    // One change, one save: the status and both file records reach db.json together.
    const output = this.newFilePath();
    const error = this.newFilePath();
    this.recordFile({ ...output, bytes: 0, filename: `${batch.id}_output.jsonl`, purpose: 'batch_output' });
    this.recordFile({ ...error, bytes: 0, filename: `${batch.id}_error.jsonl`, purpose: 'batch_output' });
    batch.model = report.model;
    batch.request_counts.total = report.requests;
    batch.status = 'in_progress';
    batch.in_progress_at = now();
    batch.output_file_id = output.id;
    batch.error_file_id = error.id;
    await this.changed(entry);
    void this.pump();
  }

  /** Runs queued batches one after another; cancellations waiting in the queue go first. */
  private async pump(): Promise<void> {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      for (;;) {
        const queued = this.store.data.batches.filter(({ batch }) => ['in_progress', 'finalizing', 'cancelling'].includes(batch.status) && batch.output_file_id);
        const next = queued.find(({ batch }) => batch.status === 'cancelling') ?? queued[0];
        if (!next || this.closed) return;
        // A batch whose run throws (its files gone, a state no run can resume) fails; the queue goes on.
        await this.run(next).catch((error: unknown) => this.failBatch(next, error));
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Where a queued batch's files are; throws what is missing, for a batch no run can resume. */
  private async runFiles(batch: Batch): Promise<RunFiles> {
    const stored = (role: string, id: string | null): StoredFile => {
      const file = id === null ? undefined : this.store.file(id);
      if (!file) throw new Error(`its ${role} file ${id ?? '(none)'} has no record in the data dir's db.json`);
      return file;
    };
    const input = stored('input', batch.input_file_id);
    if (!(await stat(input.path).catch(() => null))?.isFile()) throw new Error(`its input file ${input.id} is missing from the data dir (${input.path})`);
    return { input: input.path, output: stored('output', batch.output_file_id).path, error: stored('error', batch.error_file_id).path };
  }

  private async run(entry: StoredBatch): Promise<void> {
    const { batch } = entry;
    const files = await this.runFiles(batch);
    if (!(await this.roomToRun(entry))) return;
    const model = batch.model ?? '';
    const stats = (this.store.data.models[model] ??= {});
    const hardware = this.settings.hardware?.() ?? 'default';
    const learned = stats.limits?.[hardware];
    let concurrency = entry.options.concurrency ?? this.settings.concurrency ?? (await this.engine.slots().catch(() => undefined)) ?? DEFAULT_CONCURRENCY;
    if (learned && learned.concurrency < concurrency) concurrency = learned.concurrency;
    const calibration = new Calibration(stats.calibration);
    const measure = new RequestMeasure();
    const measured = entry.measured ?? measure.measured;
    if (!entry.numCtx && batch.status !== 'cancelling') {
      const failure = await calibrateOn(this.engine, files.input, measured, calibration, AbortSignal.timeout(this.settings.requestTimeoutMs ?? DEFAULT_RUNNER_OPTIONS.requestTimeoutMs));
      if (failure) this.emit('log', 'warn', `${batch.id}: could not calibrate token counts for ${model} (${failure}); estimating with a safety margin`);
      const facts = await this.engine.modelFacts(model).catch((): ModelFacts => ({}));
      const vramLimit = numCtxForVram(await this.settings.vram?.(), { model, ...facts, slots: concurrency, warningShare: this.settings.vramWarningShare ?? DEFAULT_WARNING_SHARE });
      const setting = entry.options.numCtx ?? this.settings.numCtx;
      entry.numCtx = planNumCtx(measured, calibration, {
        ...(setting !== undefined && { setting }),
        ...(facts.contextLength !== undefined && { modelLimit: facts.contextLength }),
        ...(learned?.numCtx !== undefined && { learnedLimit: learned.numCtx }),
        ...(vramLimit !== undefined && { vramLimit }),
      });
      this.emit('log', 'info', `${batch.id}: num_ctx ${entry.numCtx.numCtx} (${entry.numCtx.reason}; longest prompt ~${calibration.apply(measured.longestPrompt)} tokens on line ${measured.longestLine}, answers up to ${measured.longestOutput})`);
    }
    const options: RunnerOptions = {
      ...DEFAULT_RUNNER_OPTIONS,
      ...this.settings,
      concurrency,
      context: {
        mode: entry.options.mode ?? this.settings.mode ?? 'independent',
        ...(this.settings.trimEvery !== undefined && { trimEvery: this.settings.trimEvery }),
        strategy: entry.options.trimStrategy ?? this.settings.trimStrategy ?? 'sliding-window',
        counter: measure.counter,
        calibration,
        ...(this.settings.aggressiveFraction !== undefined && { aggressiveFraction: this.settings.aggressiveFraction }),
        ...(this.settings.trimAllowCut && { allowCut: true }),
      },
    };
    if (entry.numCtx) options.numCtx = entry.numCtx.numCtx;
    let outOfMemory = false;
    const live = new LiveBatchMetrics(batch.id, entry.metrics, this.store.metricsDir, (snapshot) => this.emit('metrics', batch.id, snapshot));
    this.live = { entry, metrics: live };
    const run = new BatchRun(files, this.engine, options, {
      onProgress: (progress) => {
        this.progress(entry, progress);
        live.metrics.progress({ done: progress.completed + progress.failed, total: batch.request_counts.total });
      },
      onAnswered: (answer) => {
        this.emit('answered', answer.latencyMs / 1000);
        live.answered(answer);
      },
      onFailed: (code, final) => live.failed(code, final),
      onPause: (reason) => {
        batch.paused_reason = reason;
        this.changed(entry).catch((error: Error) => this.emit('log', 'warn', `${batch.id}: could not save its pause: ${error.message}`));
      },
      onAdjusted: (adjustment: Adjustment) => {
        outOfMemory ||= adjustment.reason.startsWith('out of memory');
        live.adjusted(adjustment);
        this.emit('log', 'warn', `${batch.id}: ${adjustment.reason} (concurrency ${adjustment.concurrency}, num_ctx ${adjustment.numCtx ?? 'engine default'})`);
        this.emit('adjusted', batch.id, adjustment);
      },
    }, (batch.expires_at ?? Infinity) * 1000);
    run.setPressure(this.pressure);
    if (batch.status === 'cancelling') run.stop('cancelled');
    live.start(this.settings.progressIntervalMs ?? 1000);
    const startedAt = performance.now();
    const doneBefore = batch.request_counts.completed + batch.request_counts.failed;
    const finished = run.run();
    this.running = { id: batch.id, run, finished: finished.catch(() => undefined) };
    let outcome: RunOutcome;
    try {
      outcome = await finished;
    } catch (error) {
      // A full disk pauses the batch: the next turn of the queue waits for space (roomToRun) and resumes it.
      if (isDiskFull(error)) return this.pauseForDisk(entry, await freeBytes(this.store.filesDir));
      batch.status = 'failed';
      batch.failed_at = now();
      batch.errors = { object: 'list', data: [{ code: 'internal_error', message: `the run stopped: ${(error as Error).message}`, param: null, line: null }] };
      return this.changed(entry);
    } finally {
      this.running = null;
      this.live = null;
      await live.stop();
      entry.metrics = live.metrics.toJSON();
      stats.calibration = calibration.toJSON() ?? undefined;
      if (outOfMemory) {
        // What held after the engine ran out of memory: future batches of this model here start there.
        (stats.limits ??= {})[hardware] = learnedLimits(run.heldLimits, entry.numCtx?.numCtx, live.metrics.snapshot().vram?.peakUsedMiB ?? null);
      }
    }
    if (outcome === 'interrupted' || this.closed) return;
    batch.paused_reason = null;
    if (outcome === 'completed') {
      this.learnThroughput(batch, concurrency, batch.request_counts.completed + batch.request_counts.failed - doneBefore, (performance.now() - startedAt) / 1000);
      batch.status = 'finalizing';
      batch.finalizing_at = now();
      await this.changed(entry);
    }
    await Promise.all([batch.output_file_id!, batch.error_file_id!].map(async (id) => {
      const file = this.getFile(id);
      file.bytes = (await stat(file.path)).size;
    }));
    const status = outcome === 'completed' ? 'completed' : outcome;
    batch.status = status;
    batch[`${status}_at`] = now();
    await this.changed(entry);
  }

  /**
   * Waits until the data dir's disk has room for a run (MIN_FREE_BYTES), the batch paused with
   * the reason meanwhile; false when the daemon closes first.
   */
  private async roomToRun(entry: StoredBatch): Promise<boolean> {
    for (;;) {
      const free = await freeBytes(this.store.filesDir);
      if (free >= MIN_FREE_BYTES) break;
      await this.pauseForDisk(entry, free);
      await sleep(DISK_POLL_MS, undefined, { signal: this.closing.signal }).catch(() => undefined);
      if (this.closed) return false;
    }
    if (entry.batch.paused_reason?.startsWith(DISK_FULL)) {
      entry.batch.paused_reason = null;
      this.emit('log', 'info', `${entry.batch.id}: the disk has room again; resuming`);
      await this.changed(entry);
    }
    return true;
  }

  private async pauseForDisk(entry: StoredBatch, free: number): Promise<void> {
    if (entry.batch.paused_reason?.startsWith(DISK_FULL)) return;
    entry.batch.paused_reason = diskFullReason(free);
    this.emit('log', 'warn', `${entry.batch.id} paused: ${entry.batch.paused_reason}; it resumes by itself when there is room`);
    // The save may fail on that disk too: the pause is announced all the same, and saved when it can be.
    await this.store.save().catch(() => undefined);
    this.emit('changed', structuredClone(entry.batch));
  }

  private progress(entry: StoredBatch, progress: RunProgress): void {
    const { batch } = entry;
    batch.request_counts.completed = progress.completed;
    batch.request_counts.failed = progress.failed;
    const { usage } = progress;
    batch.usage.input_tokens = usage.promptTokens;
    batch.usage.input_tokens_details.cached_tokens = usage.cachedTokens;
    batch.usage.output_tokens = usage.completionTokens;
    batch.usage.total_tokens = usage.promptTokens + usage.completionTokens;
    this.saveSoon();
    this.announceSoon(entry);
  }

  /** Keeps the model's pace for estimates (convert's ETA); a short run says too little. */
  private learnThroughput(batch: Batch, concurrency: number, answered: number, seconds: number): void {
    if (!batch.model || answered < MIN_REQUESTS_TO_LEARN || seconds <= 0) return;
    const stats = (this.store.data.models[batch.model] ??= {});
    Object.assign(stats, { requestsPerSecond: answered / seconds, concurrency, measuredAt: now() });
  }

  /** Persists now and tells listeners; used at every status change. */
  private async changed(entry: StoredBatch): Promise<void> {
    clearTimeout(this.announceTimers.get(entry.batch.id));
    this.announceTimers.delete(entry.batch.id);
    await this.store.save();
    this.emit('changed', structuredClone(entry.batch));
  }

  private saveSoon(): void {
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      if (this.live) this.live.entry.metrics = this.live.metrics.metrics.toJSON();
      // A progress save that fails (a full disk) is made again at the next tick or status change.
      this.store.save().catch((error: Error) => this.emit('log', 'warn', `could not save progress: ${error.message}`));
    }, this.settings.progressIntervalMs ?? 1000);
  }

  private announceSoon(entry: StoredBatch): void {
    const id = entry.batch.id;
    if (this.announceTimers.has(id)) return;
    this.announceTimers.set(id, setTimeout(() => {
      this.announceTimers.delete(id);
      this.emit('changed', structuredClone(entry.batch));
    }, Math.min(250, this.settings.progressIntervalMs ?? 250)));
  }
}

function checkMetadata(metadata: Record<string, string> | null): void {
  if (metadata === null) return;
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new ServiceError('invalid_request', 'metadata must be an object of strings', 'metadata');
  const entries = Object.entries(metadata);
  if (entries.length > METADATA_LIMITS.pairs) throw new ServiceError('invalid_request', `metadata has ${entries.length} pairs; at most ${METADATA_LIMITS.pairs}`, 'metadata');
  for (const [key, value] of entries) {
    if (key.length > METADATA_LIMITS.key) throw new ServiceError('invalid_request', `metadata key "${key.slice(0, 20)}…" is longer than ${METADATA_LIMITS.key} characters`, 'metadata');
    if (typeof value !== 'string' || value.length > METADATA_LIMITS.value) {
      throw new ServiceError('invalid_request', `metadata value of "${key}" must be a string of at most ${METADATA_LIMITS.value} characters`, 'metadata');
    }
  }
}

/** Share of what held after an out-of-memory that future batches keep to, for a margin. */
const SAFE_SHARE = 0.9;

/**
 * What a batch that ran out of memory teaches the next ones: the most concurrency that held (its
 * run's answers in a row without running out of memory, not the lowest it fell to); 90% of the
 * num_ctx that held, when num_ctx itself had to come down; and the VRAM it peaked at.
 */
function learnedLimits(held: { concurrency: number; numCtx: number | undefined }, plannedNumCtx: number | undefined, vramPeakMiB: number | null): LearnedLimits {
  const limits: LearnedLimits = { concurrency: held.concurrency, learnedAt: now() };
  if (held.numCtx !== undefined && held.numCtx < (plannedNumCtx ?? Infinity)) limits.numCtx = Math.max(MIN_NUM_CTX, Math.floor((held.numCtx * SAFE_SHARE) / NUM_CTX_STEP) * NUM_CTX_STEP);
  if (vramPeakMiB !== null) limits.vramMiB = Math.floor(vramPeakMiB * SAFE_SHARE);
  return limits;
}

/** Run options a batch carries in its metadata (what an OpenAI client can set): num_ctx, trim_strategy, mode. */
function runOptionsOf(metadata: Record<string, string> | null | undefined): BatchRunOptions {
  const options: BatchRunOptions = {};
  if (metadata?.num_ctx !== undefined) {
    const numCtx = Number(metadata.num_ctx);
    if (!(Number.isInteger(numCtx) && numCtx > 0)) throw new ServiceError('invalid_request', `metadata.num_ctx must be a positive integer, got ${JSON.stringify(metadata.num_ctx)}`, 'metadata.num_ctx');
    options.numCtx = numCtx;
  }
  if (metadata?.trim_strategy !== undefined) options.trimStrategy = metadata.trim_strategy as TrimStrategy;
  if (metadata?.mode !== undefined) options.mode = metadata.mode as BatchMode;
  return options;
}

function checkRunOptions(options: BatchRunOptions): void {
  if (options.mode !== undefined && !BATCH_MODES.includes(options.mode)) {
    throw new ServiceError('invalid_request', `mode must be one of ${BATCH_MODES.join(', ')}, got ${JSON.stringify(options.mode)}`, 'mode');
  }
  if (options.trimStrategy !== undefined && !TRIM_STRATEGIES.includes(options.trimStrategy)) {
    throw new ServiceError('invalid_request', `the trim strategy must be one of ${TRIM_STRATEGIES.join(', ')}, got ${JSON.stringify(options.trimStrategy)}`, 'trim_strategy');
  }
  for (const key of ['concurrency', 'numCtx'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new ServiceError('invalid_request', `${key} must be a positive integer`, `options.${key}`);
  }
}

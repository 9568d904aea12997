// The batch queue and each batch's lifecycle: created, validated, run one at a time oldest first
// (cancellations first), cancelled, retried, paused while the disk is full or after a failed pilot
// check (passed over until resumed), failed with a reason when it cannot go on. While a batch runs its progress is saved and announced on timers, and
// what the run teaches about its model is kept. Takes its parts and its clock from the caller.
import { once, type EventEmitter } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { ModelFacts } from '../engines/engine.js';
import type { VramPressure, VramSnapshot } from '../gpu/vram-monitor.js';
import { readLines } from '../jsonl/lines.js';
import type { Adjustment, BatchMetricsSnapshot } from '../protocol/metrics.js';
import type { Batch, BatchError } from '../protocol/openai.js';
import { TERMINAL_STATUSES } from '../protocol/openai.js';
import { diskFullReason, freeBytes, isDiskFull, MIN_FREE_BYTES } from '../store/disk-space.js';
import type { Store, StoredBatch } from '../store/store.js';
import type { Clock } from './clock.js';
import { calibrateOn, RequestMeasure } from './context-plan.js';
import { ServiceError } from './errors.js';
import type { FileRegistry } from './file-registry.js';
import { recoverJournals } from './journal.js';
import { LiveBatchMetrics, restoreMetrics } from './live-metrics.js';
import type { ModelAliases } from '../pool/models.js';
import type { Endpoint } from '../pool/endpoint.js';
import type { EnginePool, ServingEndpoint } from '../pool/pool.js';
import type { ModelLearning } from './model-learning.js';
import { newBatch, type CreateBatchParams } from './new-batch.js';
import { BatchRun, DEFAULT_RUNNER_OPTIONS, type RunFiles, type RunOutcome, type RunProgress } from './runner.js';
import {
  budgetsOf,
  choosesNumCtx,
  planRun,
  runnerOptions,
  type RunFacts,
  type RunPlan,
  type RunSettings,
} from './run-planner.js';
import { validateBatchFile, type ValidationLimits } from './validate.js';

export interface QueueSettings extends RunSettings {
  /** A fresh VRAM reading, to size num_ctx to what the GPUs hold (none: no VRAM cap). */
  vram?: () => Promise<VramSnapshot | undefined>;
  /** Names the GPUs limits are learned for (default: one machine, "default"). */
  hardware?: () => string;
  validation?: Partial<ValidationLimits>;
  /** How often progress is persisted and announced while a batch runs. */
  progressIntervalMs?: number;
  /**
   * Request model name → the name the engine serves (for llama-cpp also its model file's path),
   * so that a file written for one engine runs on another unedited. Validation checks the target
   * and requests are sent under it; the batch's `model` stays what the file says.
   */
  modelAliases?: ModelAliases;
}

export interface QueueEvents {
  changed: [Batch];
  answered: [seconds: number];
  /** A limit the running batch changed by itself. */
  adjusted: [batchId: string, adjustment: Adjustment];
  /** Something for the daemon's log. */
  log: [level: 'info' | 'warn', message: string];
  /** The running batch's metrics, every second. */
  metrics: [batchId: string, snapshot: BatchMetricsSnapshot];
}

export interface QueueParts {
  store: Store;
  pool: EnginePool;
  files: FileRegistry;
  learning: ModelLearning;
  /** Where the queue tells what happens. */
  events: EventEmitter<QueueEvents>;
  clock: Clock;
  settings: QueueSettings;
}

const NEWLINE = Buffer.from('\n');
/** How often a batch paused for disk space looks again. */
const DISK_POLL_MS = 2000;
const DISK_FULL = 'disk full';

export class BatchQueue {
  private readonly store: Store;
  private readonly pool: EnginePool;
  private readonly files: FileRegistry;
  private readonly learning: ModelLearning;
  private readonly events: EventEmitter<QueueEvents>;
  private readonly clock: Clock;
  private readonly settings: QueueSettings;
  private running: { id: string; run: BatchRun; finished: Promise<unknown> } | null = null;
  /** The batch the pump has taken, from then until its run has ended. */
  private current: StoredBatch | null = null;
  /** Cancelled batches being ended beside the running one. */
  private readonly ending = new Map<StoredBatch, Promise<void>>();
  private pumping = false;
  private closed = false;
  private cancelSave: (() => void) | undefined;
  /** Aborted by close(): ends waits such as the one for disk space. */
  private readonly closing = new AbortController();
  private readonly cancelAnnouncements = new Map<string, () => void>();
  private pressure: VramPressure = 'normal';
  private live: { entry: StoredBatch; metrics: LiveBatchMetrics } | null = null;

  constructor(parts: QueueParts) {
    this.store = parts.store;
    this.pool = parts.pool;
    this.files = parts.files;
    this.learning = parts.learning;
    this.events = parts.events;
    this.clock = parts.clock;
    this.settings = parts.settings;
  }

  /** Picks up where the last daemon stopped: revalidates, resumes and finishes batches. */
  start(): void {
    for (const entry of this.store.data.batches) {
      const { status, output_file_id } = entry.batch;
      if (status === 'validating' || (status === 'cancelling' && !output_file_id))
        this.background(entry, this.validate(entry));
      else if (status === 'in_progress' && entry.pilot === 'paused') this.background(entry, this.recount(entry));
    }
    void this.pump();
  }

  /** Stops at once; a running batch is interrupted, not cancelled, and resumes at the next start. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    const running = this.running;
    running?.run.stop('interrupted');
    await running?.finished;
    await Promise.all(this.ending.values());
    this.cancelSave?.();
    for (const cancel of this.cancelAnnouncements.values()) cancel();
    await this.store.save();
  }

  entry(id: string): StoredBatch {
    const entry = this.store.batch(id);
    if (!entry) throw new ServiceError('not_found', `No batch with id ${JSON.stringify(id)}`, 'batch_id');
    return entry;
  }

  async create(params: CreateBatchParams): Promise<Batch> {
    const entry = newBatch(params, (id) => this.files.get(id), this.clock.now());
    this.store.data.batches.push(entry);
    await this.changed(entry).catch((error: unknown) => {
      // Not saved, not created: the caller hears why (507 for a full disk) and nothing half-made stays.
      this.store.data.batches = this.store.data.batches.filter((each) => each !== entry);
      throw isDiskFull(error)
        ? new ServiceError('disk_full', `the batch could not be saved: ${(error as Error).message}`)
        : error;
    });
    this.background(entry, this.validate(entry));
    return structuredClone(entry.batch);
  }

  async cancel(id: string): Promise<Batch> {
    const entry = this.entry(id);
    const { batch } = entry;
    if (TERMINAL_STATUSES.includes(batch.status)) {
      throw new ServiceError('conflict', `Batch ${id} is ${batch.status} and cannot be cancelled`, 'batch_id');
    }
    if (batch.status !== 'cancelling') {
      batch.status = 'cancelling';
      batch.cancelling_at = this.clock.now();
      if (entry.pilot === 'paused') batch.paused_reason = null;
      await this.changed(entry);
    }
    // Taken by the pump: running, it stops; being started, run() sees the status before it sends.
    if (this.current === entry) this.running?.run.stop('cancelled');
    // Queued behind another batch, it has nothing in flight: it ends now, not when that one does.
    else if (batch.output_file_id) void this.endCancelled(entry);
    // Else it is validating: validate() ends it once it has read the file.
    return structuredClone(batch);
  }

  /**
   * Resumes a batch the pilot check paused: the user overrides the check, which is not made
   * again for it (after a restart neither), and the batch takes its turn in the queue.
   */
  async resume(id: string): Promise<Batch> {
    const entry = this.entry(id);
    const { batch } = entry;
    if (entry.pilot !== 'paused' || batch.status !== 'in_progress')
      throw new ServiceError(
        'conflict',
        `Batch ${id} is ${batch.status}${batch.paused_reason ? ` (${batch.paused_reason})` : ''}, not paused by the pilot check; only such a batch waits for a resume`,
        'batch_id',
      );
    entry.pilot = 'overridden';
    batch.paused_reason = null;
    this.events.emit('log', 'info', `${id}: resumed; its pilot check is overridden`);
    await this.changed(entry);
    // Still ending its run (lines in flight when it paused), it is taken again once that ends.
    void this.pump();
    return structuredClone(batch);
  }

  /**
   * A new batch of the lines of a finished batch that failed (error lines, cancelled and
   * expired ones included), with the same endpoint, window and run options.
   */
  async retry(id: string): Promise<Batch> {
    const { batch, options } = this.entry(id);
    if (!TERMINAL_STATUSES.includes(batch.status))
      throw new ServiceError('conflict', `Batch ${id} is ${batch.status}; retry it once it has ended`, 'batch_id');
    const failed = new Set<string>();
    if (batch.error_file_id && this.store.file(batch.error_file_id)) {
      for await (const { bytes } of readLines(this.files.get(batch.error_file_id).path)) {
        if (bytes && bytes.length > 0)
          failed.add((JSON.parse(bytes.toString('utf8')) as { custom_id: string }).custom_id);
      }
    }
    if (failed.size === 0) throw new ServiceError('conflict', `Batch ${id} has no failed lines to retry`, 'batch_id');
    const input = this.files.get(batch.input_file_id);
    const retry = this.files.newPath();
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
    await this.files.add({ ...retry, bytes, filename: `${batch.id}_retry.jsonl`, purpose: 'batch' });
    return this.create({
      input_file_id: retry.id,
      endpoint: batch.endpoint,
      completion_window: batch.completion_window,
      metadata: { ...batch.metadata, retry_of: batch.id },
      options,
    });
  }

  /** VRAM pressure, from the daemon's monitor: the running batch adapts (runner.setPressure). */
  setPressure(level: VramPressure): void {
    this.pressure = level;
    this.running?.run.setPressure(level);
  }

  /** A VRAM reading from the daemon's monitor, for the running batch's metrics. */
  vramReading(snapshot: VramSnapshot): void {
    this.live?.metrics.vram(snapshot);
  }

  /** A batch's metrics: live while it runs, as kept once it has run. */
  metricsOf(entry: StoredBatch): BatchMetricsSnapshot {
    return this.live?.entry === entry
      ? { ...this.live.metrics.metrics.snapshot(), endpoints: this.pool.statuses() }
      : restoreMetrics(entry.metrics).snapshot();
  }

  /** The running batch's id, if any. */
  get runningBatchId(): string | null {
    return this.running?.id ?? null;
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
    this.events.emit('log', 'warn', `${batch.id} cannot go on and is marked failed: ${message}`);
    if (TERMINAL_STATUSES.includes(batch.status)) return;
    batch.status = 'failed';
    batch.failed_at = this.clock.now();
    batch.paused_reason = null;
    batch.errors = {
      object: 'list',
      data: [{ code: 'internal_error', message: `the batch cannot go on: ${message}`, param: null, line: null }],
    };
    await this.changed(entry).catch((saveError: unknown) =>
      this.events.emit('log', 'warn', `${batch.id}: could not save its failure: ${(saveError as Error).message}`),
    );
  }

  private async validate(entry: StoredBatch): Promise<void> {
    const { batch } = entry;
    const file = this.store.file(batch.input_file_id);
    let errors: BatchError[];
    let report: Awaited<ReturnType<typeof validateBatchFile>> | null = null;
    if (!file) {
      errors = [
        {
          code: 'file_not_found',
          message: `input file ${batch.input_file_id} no longer exists`,
          param: 'input_file_id',
          line: null,
        },
      ];
    } else {
      const measure = new RequestMeasure();
      report = await validateBatchFile(file.path, {
        displayName: file.filename,
        endpoint: batch.endpoint,
        limits: this.settings.validation,
        onRequest: measure.onRequest,
        engines: [...new Set(this.pool.endpoints.map((endpoint) => endpoint.engine.name))],
        modelProblem: (model) => this.pool.problem(model),
      });
      errors = report.errors;
      entry.measured = measure.measured;
    }
    if (batch.status === 'cancelling') {
      // Cancelled while validating: no request was ever queued.
      batch.status = 'cancelled';
      batch.cancelled_at = this.clock.now();
      return this.changed(entry);
    }
    if (errors.length > 0 || !report) {
      batch.status = 'failed';
      batch.failed_at = this.clock.now();
      batch.errors = { object: 'list', data: errors };
      return this.changed(entry);
    }
    // One change, one save: the status and both file records reach db.json together.
    const output = this.files.newPath();
    const error = this.files.newPath();
    this.files.record({ ...output, bytes: 0, filename: `${batch.id}_output.jsonl`, purpose: 'batch_output' });
    this.files.record({ ...error, bytes: 0, filename: `${batch.id}_error.jsonl`, purpose: 'batch_output' });
    batch.model = report.model;
    batch.request_counts.total = report.requests;
    batch.status = 'in_progress';
    batch.in_progress_at = this.clock.now();
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
        const queued = this.store.data.batches.filter(
          (entry) =>
            ['in_progress', 'finalizing', 'cancelling'].includes(entry.batch.status) &&
            entry.batch.output_file_id &&
            !this.ending.has(entry) &&
            // Paused by its pilot check, it waits for a resume or a cancel; the others go on.
            !(entry.batch.status === 'in_progress' && entry.pilot === 'paused'),
        );
        const next = queued.find(({ batch }) => batch.status === 'cancelling') ?? queued[0];
        if (!next || this.closed) return;
        this.current = next;
        try {
          if (next.batch.status === 'cancelling') await this.endCancelled(next);
          // A batch whose run throws (its files gone, a state no run can resume) fails; the queue goes on.
          else await this.run(next).catch((error: unknown) => this.failBatch(next, error));
        } finally {
          this.current = null;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async run(entry: StoredBatch): Promise<void> {
    const { batch } = entry;
    const files = await this.files.runFiles(batch);
    if (!(await this.roomToRun(entry))) return;
    const serving = await this.servingEndpoints(batch.model ?? '');
    // What the engine learns and is asked about is its own model: an alias's target.
    const { model } = serving[0]!;
    const hardware = this.settings.hardware?.() ?? 'default';
    const measure = new RequestMeasure();
    const facts: RunFacts = {
      model,
      options: entry.options,
      chosenNumCtx: entry.numCtx,
      cancelling: batch.status === 'cancelling',
      pilot: entry.pilot,
      measured: entry.measured ?? measure.measured,
      learned: this.learning.limits(model, hardware),
      calibration: this.learning.calibration(model),
      settings: this.settings,
    };
    const plan = await this.plan(entry, files, facts, serving[0]!.endpoint);
    // What it runs by, in the log: a batch's own settings (run's flags, its metadata) are seen to hold.
    this.events.emit(
      'log',
      'info',
      `${batch.id}: runs ${plan.trim.mode} at concurrency ${plan.concurrency}, trim strategy ${plan.trim.strategy}${plan.trim.allowCut ? ' (may cut inside a message)' : ''}`,
    );
    const { calibration } = facts;
    let outOfMemory = false;
    // The pool's endpoints ride with each live snapshot: how the batch runs on each.
    const live = new LiveBatchMetrics(batch.id, entry.metrics, this.store.metricsDir, (snapshot) =>
      this.events.emit('metrics', batch.id, { ...snapshot, endpoints: this.pool.statuses() }),
    );
    this.live = { entry, metrics: live };
    const run = new BatchRun(
      files,
      serving,
      runnerOptions(plan, measure.counter, calibration),
      {
        onProgress: (progress) => {
          this.progress(entry, progress);
          live.metrics.progress({ done: progress.completed + progress.failed, total: batch.request_counts.total });
        },
        onAnswered: (answer) => {
          this.events.emit('answered', answer.latencyMs / 1000);
          live.answered(answer);
        },
        onFailed: (code, final) => live.failed(code, final),
        onPause: (reason) => {
          // After a failed pilot check the batch waits for the user, whatever its engine does.
          if (entry.pilot === 'paused') return;
          batch.paused_reason = reason;
          this.changed(entry).catch((error: Error) =>
            this.events.emit('log', 'warn', `${batch.id}: could not save its pause: ${error.message}`),
          );
        },
        onAdjusted: (adjustment) => {
          outOfMemory ||= adjustment.reason.startsWith('out of memory');
          live.adjusted(adjustment);
          this.events.emit(
            'log',
            'warn',
            `${batch.id}: ${adjustment.reason} (concurrency ${adjustment.concurrency}, num_ctx ${adjustment.numCtx ?? 'engine default'})`,
          );
          this.events.emit('adjusted', batch.id, adjustment);
        },
        onPilot: (verdict) => {
          entry.pilot = verdict.passed ? 'passed' : 'paused';
          if (verdict.passed)
            this.events.emit(
              'log',
              'info',
              `${batch.id}: pilot check passed (${verdict.invalid} of ${verdict.answers} answers invalid)`,
            );
          else {
            batch.paused_reason = verdict.reason;
            this.events.emit('log', 'warn', `${batch.id} paused: ${verdict.reason}`);
          }
          // The verdict is kept at once: a batch restarted after it is not checked again.
          this.changed(entry).catch((error: Error) =>
            this.events.emit('log', 'warn', `${batch.id}: could not save its pilot check: ${error.message}`),
          );
        },
      },
      (batch.expires_at ?? Infinity) * 1000,
    );
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
      batch.failed_at = this.clock.now();
      batch.errors = {
        object: 'list',
        data: [
          { code: 'internal_error', message: `the run stopped: ${(error as Error).message}`, param: null, line: null },
        ],
      };
      return this.changed(entry);
    } finally {
      this.running = null;
      this.live = null;
      await live.stop();
      entry.metrics = live.metrics.toJSON();
      this.learning.keepCalibration(model, calibration);
      // What held after the engine ran out of memory: future batches of this model here start there.
      if (outOfMemory)
        this.learning.learnLimits(model, hardware, {
          ...run.heldLimits,
          plannedNumCtx: entry.numCtx?.numCtx,
          vramPeakMiB: live.metrics.snapshot().vram?.peakUsedMiB ?? null,
        });
    }
    // Paused by its pilot check: it stays in progress, passed over by the queue until resumed.
    if (outcome === 'interrupted' || outcome === 'paused' || this.closed) return;
    batch.paused_reason = null;
    if (outcome === 'completed') {
      this.learning.learnThroughput(
        batch.model,
        plan.concurrency,
        batch.request_counts.completed + batch.request_counts.failed - doneBefore,
        (performance.now() - startedAt) / 1000,
      );
      batch.status = 'finalizing';
      batch.finalizing_at = this.clock.now();
      await this.changed(entry);
    }
    await this.files.finishOutputs(entry);
    batch.status = outcome;
    batch[`${outcome}_at`] = this.clock.now();
    await this.changed(entry);
  }

  /**
   * A batch paused by its pilot check does not run until resumed: its counts are read from its
   * journal, which a kill may have left ahead of db.json's last save.
   */
  private async recount(entry: StoredBatch): Promise<void> {
    this.progress(entry, (await recoverJournals(await this.files.runFiles(entry.batch))).progress);
  }

  /**
   * Ends a cancelled batch that is not running: each line it has not answered gets its
   * batch_cancelled error line (the engine is not asked), then it is cancelled.
   */
  private endCancelled(entry: StoredBatch): Promise<void> {
    let ending = this.ending.get(entry);
    if (!ending) {
      ending = this.writeCancelled(entry)
        .catch((error: unknown) => this.failBatch(entry, error))
        .finally(() => this.ending.delete(entry));
      this.ending.set(entry, ending);
    }
    return ending;
  }

  private async writeCancelled(entry: StoredBatch): Promise<void> {
    const { batch } = entry;
    const ignore = (): void => undefined;
    const run = new BatchRun(
      await this.files.runFiles(batch),
      [{ endpoint: this.pool.default, model: batch.model ?? '' }],
      { ...DEFAULT_RUNNER_OPTIONS, concurrency: 1 },
      {
        onProgress: (progress) => this.progress(entry, progress),
        onPause: ignore,
        onAnswered: ignore,
        onFailed: ignore,
        onAdjusted: ignore,
      },
      null,
    );
    run.stop('cancelled');
    await run.run();
    await this.files.finishOutputs(entry);
    batch.status = 'cancelled';
    batch.cancelled_at = this.clock.now();
    await this.changed(entry);
  }

  /**
   * The batch's run plan. Its num_ctx is chosen at its first run, from its calibrated longest
   * request, the model's facts and a fresh VRAM reading, and kept with it from then on.
   */
  private async plan(entry: StoredBatch, files: RunFiles, facts: RunFacts, endpoint: Endpoint): Promise<RunPlan> {
    const { batch } = entry;
    const { model, measured, calibration } = facts;
    const { engine } = endpoint;
    // The endpoint's own concurrency (configured, or what its engine told) where the batch and the daemon set none.
    if ((entry.options.concurrency ?? this.settings.concurrency) === undefined)
      facts.slots = endpoint.concurrency ?? (await engine.slots().catch(() => undefined));
    if (!choosesNumCtx(facts)) return planRun(facts);
    const failure = await calibrateOn(
      engine,
      model,
      files.input,
      measured,
      calibration,
      AbortSignal.timeout(budgetsOf(this.settings).requestTimeoutMs),
    );
    if (failure)
      this.events.emit(
        'log',
        'warn',
        `${batch.id}: could not calibrate token counts for ${model} (${failure}); estimating with a safety margin`,
      );
    facts.engine = await engine.modelFacts(model).catch((): ModelFacts => ({}));
    facts.vram = await this.settings.vram?.();
    const plan = planRun(facts);
    const chosen = (entry.numCtx = plan.numCtx!);
    this.events.emit(
      'log',
      'info',
      `${batch.id}: num_ctx ${chosen.numCtx} (${chosen.reason}; longest prompt ~${calibration.apply(measured.longestPrompt)} tokens on line ${measured.longestLine}, answers up to ${measured.longestOutput})`,
    );
    return plan;
  }

  /**
   * The endpoints a batch of `model` runs on, the first of them asked the model's facts. Where
   * none says it serves the model (one removed since validation), all of them: each line then
   * gets the engine's own answer, as on a single engine.
   */
  private async servingEndpoints(model: string): Promise<ServingEndpoint[]> {
    const serving = await this.pool.serving(model);
    if (serving.length > 0) return serving;
    return Promise.all(
      this.pool.endpoints.map(async (endpoint) => ({ endpoint, model: await endpoint.models.engineName(model) })),
    );
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
      await this.clock.sleep(DISK_POLL_MS, this.closing.signal);
      if (this.closed) return false;
    }
    if (entry.batch.paused_reason?.startsWith(DISK_FULL)) {
      entry.batch.paused_reason = null;
      this.events.emit('log', 'info', `${entry.batch.id}: the disk has room again; resuming`);
      await this.changed(entry);
    }
    return true;
  }

  private async pauseForDisk(entry: StoredBatch, free: number): Promise<void> {
    if (entry.batch.paused_reason?.startsWith(DISK_FULL)) return;
    entry.batch.paused_reason = diskFullReason(free);
    this.events.emit(
      'log',
      'warn',
      `${entry.batch.id} paused: ${entry.batch.paused_reason}; it resumes by itself when there is room`,
    );
    // The save may fail on that disk too: the pause is announced all the same, and saved when it can be.
    await this.store.save().catch(() => undefined);
    this.events.emit('changed', structuredClone(entry.batch));
  }

  private progress(entry: StoredBatch, progress: RunProgress): void {
    const { batch } = entry;
    batch.request_counts.completed = progress.completed;
    batch.request_counts.failed = progress.failed;
    const { usage } = progress;
    batch.usage.input_tokens = usage.promptTokens;
    batch.usage.input_tokens_details.cached_tokens = usage.cachedTokens;
    batch.usage.output_tokens = usage.completionTokens;
    batch.usage.output_tokens_details.reasoning_tokens = usage.reasoningTokens;
    batch.usage.total_tokens = usage.promptTokens + usage.completionTokens;
    this.saveSoon();
    this.announceSoon(entry);
  }

  /** Persists now and tells listeners; used at every status change. */
  private async changed(entry: StoredBatch): Promise<void> {
    this.cancelAnnouncements.get(entry.batch.id)?.();
    this.cancelAnnouncements.delete(entry.batch.id);
    await this.store.save();
    this.events.emit('changed', structuredClone(entry.batch));
  }

  private saveSoon(): void {
    this.cancelSave ??= this.clock.after(this.settings.progressIntervalMs ?? 1000, () => {
      this.cancelSave = undefined;
      if (this.live) this.live.entry.metrics = this.live.metrics.metrics.toJSON();
      // A progress save that fails (a full disk) is made again at the next tick or status change.
      this.store
        .save()
        .catch((error: Error) => this.events.emit('log', 'warn', `could not save progress: ${error.message}`));
    });
  }

  private announceSoon(entry: StoredBatch): void {
    const id = entry.batch.id;
    if (this.cancelAnnouncements.has(id)) return;
    this.cancelAnnouncements.set(
      id,
      this.clock.after(Math.min(250, this.settings.progressIntervalMs ?? 250), () => {
        this.cancelAnnouncements.delete(id);
        this.events.emit('changed', structuredClone(entry.batch));
      }),
    );
  }
}

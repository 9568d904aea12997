// The batch service: every operation on files and batches, once. The JSON-RPC socket and the
// HTTP API are thin transports over it. A facade over its parts: the file registry, the batch
// queue (batches run one at a time, oldest first), the run planner and model learning.
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Engine } from '../engines/engine.js';
import { EnginePool } from '../pool/pool.js';
import type { VramPressure, VramSnapshot } from '../gpu/vram-monitor.js';
import type { BatchMetricsReport } from '../protocol/metrics.js';
import { readTimeSeries } from '../metrics/time-series.js';
import { TERMINAL_STATUSES, type Batch, type FileObject, type FilePurpose } from '../protocol/openai.js';
import type { ModelStats, Store, StoredFile } from '../store/store.js';
import { BatchQueue, type QueueEvents, type QueueSettings } from './batch-queue.js';
import { systemClock, type Clock } from './clock.js';
import { ServiceError } from './errors.js';
import { FileRegistry, type NewFile } from './file-registry.js';
import { timeSeriesPath } from './live-metrics.js';
import { ModelLearning } from './model-learning.js';
import { pageOf, type ListPage, type PageParams } from './list-page.js';
import type { CreateBatchParams } from './new-batch.js';

export type ListParams = Omit<PageParams, 'order'>;

export type BatchList = ListPage<Batch>;

export class BatchService extends EventEmitter<QueueEvents> {
  private readonly files: FileRegistry;
  private readonly learning: ModelLearning;
  private readonly queue: BatchQueue;

  constructor(
    private readonly store: Store,
    /** The engines batches run on: one engine (a pool of it, with the settings' model aliases), or a pool. */
    engines: Engine | EnginePool,
    settings: QueueSettings = {},
    clock: Clock = systemClock,
  ) {
    super();
    this.files = new FileRegistry(store, clock);
    this.learning = new ModelLearning(store, clock);
    this.queue = new BatchQueue({
      store,
      pool: engines instanceof EnginePool ? engines : EnginePool.of(engines, settings.modelAliases),
      files: this.files,
      learning: this.learning,
      events: this,
      clock,
      settings,
    });
  }

  /**
   * Picks up where the last daemon stopped: revalidates, resumes and finishes batches, and
   * deletes the files that expired meanwhile (then each as it expires).
   */
  async start(): Promise<void> {
    this.queue.start();
    await this.files.startExpiry();
  }

  /** Stops at once; a running batch is interrupted, not cancelled, and resumes at the next start. */
  close(): Promise<void> {
    this.files.stopExpiry();
    return this.queue.close();
  }

  // ---- files

  /** Copies a local file into the data dir, so later edits of the original cannot change a batch. */
  registerFile(params: { path: string; purpose?: FilePurpose; filename?: string }): Promise<FileObject> {
    return this.files.register(params);
  }

  /** Records a file whose bytes are already in the data dir (an upload, a batch's output). */
  addFile(file: NewFile): Promise<FileObject> {
    return this.files.add(file);
  }

  newFilePath(): { id: string; path: string } {
    return this.files.newPath();
  }

  getFile(id: string): StoredFile {
    return this.files.get(id);
  }

  /** Deletes a file, unless a batch that has not ended reads or writes it. */
  deleteFile(id: string): Promise<{ id: string; object: 'file'; deleted: true }> {
    return this.files.delete(id);
  }

  /** Newest first unless `order` says otherwise, with OpenAI's cursor paging; of one purpose if given. */
  listFiles(params: PageParams & { purpose?: FilePurpose } = {}): ListPage<FileObject> {
    return this.files.list(params);
  }

  // ---- batches

  createBatch(params: CreateBatchParams): Promise<Batch> {
    return this.queue.create(params);
  }

  /** Every batch as stored (not copies): for read-only summaries such as metrics. */
  allBatches(): readonly Batch[] {
    return this.store.data.batches.map((entry) => entry.batch);
  }

  getBatch(id: string): Batch {
    return structuredClone(this.queue.entry(id).batch);
  }

  /** Newest first, with OpenAI's cursor paging. */
  listBatches(params: ListParams = {}): BatchList {
    const page = pageOf(this.allBatches(), params, { what: 'batch', max: 100, default: 20 });
    return { ...page, data: page.data.map((batch) => structuredClone(batch)) };
  }

  cancelBatch(id: string): Promise<Batch> {
    return this.queue.cancel(id);
  }

  /**
   * Forgets a batch that has ended, with what it alone holds: its metrics, and its input, output
   * and error files unless another batch uses them (a retry reads its original's files). OpenAI
   * has no batch delete; its files outlive batches, but here the daemon made them for this batch
   * (output, errors) or copied them in for it (input), so they would be orphans on the disk.
   * One that has not ended is refused: cancel it first.
   */
  async deleteBatch(id: string): Promise<{ id: string; object: 'batch'; deleted: true }> {
    const entry = this.queue.entry(id);
    const { batch } = entry;
    if (!TERMINAL_STATUSES.includes(batch.status) || this.queue.runningBatchId === id)
      throw new ServiceError(
        'conflict',
        `Batch ${id} is ${batch.status}${batch.paused_reason ? ' (paused)' : ''} and cannot be deleted; cancel it first`,
        'batch_id',
      );
    // The record first: a crash before the files go leaves leftovers that the next start removes.
    this.store.data.batches = this.store.data.batches.filter((each) => each !== entry);
    await this.store.save();
    await this.files.removeUnused([batch.input_file_id, batch.output_file_id, batch.error_file_id]);
    await rm(timeSeriesPath(this.store.metricsDir, id), { force: true });
    return { id, object: 'batch', deleted: true };
  }

  /** Resumes a batch the pilot check paused, overriding the check. */
  resumeBatch(id: string): Promise<Batch> {
    return this.queue.resume(id);
  }

  /**
   * A new batch of the lines of a finished batch that failed (error lines, cancelled and
   * expired ones included), with the same endpoint, window and run options.
   */
  retryBatch(id: string): Promise<Batch> {
    return this.queue.retry(id);
  }

  /** What the daemon learned about a model from earlier batches (for estimates). */
  modelStats(model: string): ModelStats {
    return this.learning.stats(model);
  }

  /** VRAM pressure, from the daemon's monitor: the running batch adapts (runner.setPressure). */
  setPressure(level: VramPressure): void {
    this.queue.setPressure(level);
  }

  /** A VRAM reading from the daemon's monitor, for the running batch's metrics. */
  vramReading(snapshot: VramSnapshot): void {
    this.queue.vramReading(snapshot);
  }

  /** A batch's metrics: live while it runs, as kept once it has run; its time series on request. */
  async getMetrics(id: string, withSeries = false): Promise<BatchMetricsReport> {
    const report: BatchMetricsReport = { id, snapshot: this.queue.metricsOf(this.queue.entry(id)) };
    if (withSeries) report.series = await readTimeSeries(timeSeriesPath(this.store.metricsDir, id));
    return report;
  }

  /** Every batch's metrics snapshot (for the Prometheus endpoint). */
  allMetrics(): BatchMetricsReport[] {
    return this.store.data.batches.map((entry) => ({ id: entry.batch.id, snapshot: this.queue.metricsOf(entry) }));
  }

  /** The running batch's id, if any. */
  get runningBatchId(): string | null {
    return this.queue.runningBatchId;
  }
}

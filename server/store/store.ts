// Metadata store: files, batches and settings in one lowdb JSON file, written atomically
// (atomic-json-file.ts: a flushed temp file renamed over the old one). Per-request results never
// go here: they live in each batch's append-only output and error JSONL files.
import { mkdirSync, readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import type { BatchSettings } from '../config/settings.js';
import type { CalibrationState } from '../context/calibration.js';
import type { NumCtxChoice } from '../context/num-ctx.js';
import type { BatchMetricsState } from '../metrics/batch-metrics.js';
import type { Batch, FileObject } from '../protocol/openai.js';
import { AtomicJsonFile } from './atomic-json-file.js';

/** A file the daemon holds, with where its bytes are. */
export interface StoredFile extends FileObject {
  path: string;
}

/** How one batch runs: chosen at creation, kept across restarts. */
export type BatchRunOptions = BatchSettings;

/** What validation learned about a batch's requests, kept with the batch (see batches/context-plan.ts). */
export interface MeasuredRequests {
  /** The longest prompt, in estimated (uncalibrated) tokens, and its line. */
  longestPrompt: number;
  longestLine: number;
  /** The largest output budget (max_tokens) of any request. */
  longestOutput: number;
}

export interface StoredBatch {
  batch: Batch;
  options: BatchRunOptions;
  /** Its requests as validation measured them. */
  measured?: MeasuredRequests;
  /** The num_ctx chosen at its first run, kept so that a resumed run does not reload the model. */
  numCtx?: NumCtxChoice;
  /** Its metrics' aggregate (the time series is a file of its own in metricsDir). */
  metrics?: BatchMetricsState;
  /** Seconds its output and error files are kept once complete (OpenAI's output_expires_after). */
  outputExpiresAfter?: number;
  /** Its pilot check's verdict (none yet: a run checks its first answers). */
  pilot?: PilotState;
}

/** passed: not checked again; paused: waits for a resume or a cancel; overridden: resumed by the user. */
export type PilotState = 'passed' | 'paused' | 'overridden';

/** Limits that held after the engine ran out of memory, for one model on one machine's GPUs. */
export interface LearnedLimits {
  concurrency: number;
  /** 90% of the num_ctx that held, set when num_ctx itself had to come down. */
  numCtx?: number;
  /** 90% of the VRAM in use at its peak (MiB), for reference in status and the panel. */
  vramMiB?: number;
  learnedAt: number;
}

/** What the daemon has learned about a model from the batches it ran, for estimates. */
export interface ModelStats {
  /** Requests per second of its last completed batch, and the concurrency it ran at. */
  requestsPerSecond?: number;
  concurrency?: number;
  measuredAt?: number;
  /** How its tokenizer compares with our estimate (see context/calibration.ts). */
  calibration?: CalibrationState;
  /** By the GPUs it ran on (their names, or "no GPU"). */
  limits?: Record<string, LearnedLimits>;
}

export interface StoreData {
  version: 1;
  files: StoredFile[];
  batches: StoredBatch[];
  settings: Record<string, unknown>;
  models: Record<string, ModelStats>;
}

/** db.json exists but is not JSON the store can read. */
export class StoreUnreadableError extends Error {}

/** The names the daemon gives what it keeps in files/: `file-<id>.jsonl`, and `.part` while uploading. */
const FILE_NAME = /^file-[A-Za-z0-9]+\.jsonl(\.part)?$/;

const EMPTY: StoreData = { version: 1, files: [], batches: [], settings: {}, models: {} };

export class Store {
  private constructor(
    private readonly db: Low<StoreData>,
    readonly filesDir: string,
    /** Each batch's metrics time series (a JSONL file per batch). */
    readonly metricsDir: string,
  ) {}

  static async open(dataDir: string): Promise<Store> {
    const filesDir = join(dataDir, 'files');
    const metricsDir = join(dataDir, 'metrics');
    for (const dir of [filesDir, metricsDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dataDir, 'db.json');
    const file = new AtomicJsonFile<StoreData>(path);
    const stored = await file.read().catch((error: Error) => {
      // Never written torn (atomic-json-file.ts): only a hand can break it, and only a hand should mend it.
      throw new StoreUnreadableError(
        `${path} cannot be read (${error.message}); mend it, or move it and the files/ folder beside it away to start with no batches`,
      );
    });
    const db = new Low<StoreData>(file, stored ?? structuredClone(EMPTY));
    db.data.models ??= {}; // stores written before models were learned
    for (const file of db.data.files) file.expires_at ??= null; // and before files expired
    return new Store(db, filesDir, metricsDir);
  }

  get data(): StoreData {
    return this.db.data;
  }

  file(id: string): StoredFile | undefined {
    return this.db.data.files.find((file) => file.id === id);
  }

  batch(id: string): StoredBatch | undefined {
    return this.db.data.batches.find((entry) => entry.batch.id === id);
  }

  /**
   * Removes what no record owns, left by a crash: an upload's `.part`, a file copied or
   * committed but never recorded, a temp db.json, a time series of a batch never saved or cut
   * short while being compacted. Call
   * it at startup, before anything writes; returns the paths removed, for the log.
   */
  async removeLeftovers(): Promise<string[]> {
    const owned = new Set(this.db.data.files.map((file) => file.path));
    const batches = new Set(this.db.data.batches.map((entry) => `${entry.batch.id}.jsonl`));
    const dataDir = join(this.filesDir, '..');
    const leftovers = [
      ...(await readdir(this.filesDir))
        .filter((name) => FILE_NAME.test(name))
        .map((name) => join(this.filesDir, name))
        .filter((path) => !owned.has(path)),
      ...(await readdir(this.metricsDir))
        .filter((name) => name.endsWith('.jsonl.tmp') || (name.endsWith('.jsonl') && !batches.has(name)))
        .map((name) => join(this.metricsDir, name)),
      ...(await readdir(dataDir)).filter((name) => name === '.db.json.tmp').map((name) => join(dataDir, name)),
    ];
    for (const path of leftovers) await rm(path, { force: true });
    return leftovers;
  }

  /** Persists the current state; calls made while a write waits share it. */
  async save(): Promise<void> {
    await this.db.write();
  }
}

/**
 * A data dir's db.json, read without opening the store (nothing is written): lowdb replaces it
 * atomically, so a reader beside a running daemon sees a whole file. Null when there is none
 * yet; throws when it cannot be read.
 */
export function readStoreFile(dataDir: string): Partial<StoreData> | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'db.json'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return JSON.parse(text) as Partial<StoreData>;
}

/** What a data dir's daemon has learned about a model, from its db.json. */
export function readModelStats(dataDir: string, model: string): ModelStats {
  try {
    return { ...readStoreFile(dataDir)?.models?.[model] };
  } catch {
    return {};
  }
}

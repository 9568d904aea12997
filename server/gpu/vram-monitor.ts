// Watches GPU memory while batches run: nvidia-smi for what each GPU holds, and Ollama's
// /api/ps for which models are loaded and whether part of one spilled to system RAM (the
// silent reason a batch runs several times slower). Polls on unref'd timers; a failed poll
// never throws, it shows up in the snapshot, and the next poll tries again.
import { EventEmitter } from 'node:events';
import {
  DEFAULT_CRITICAL_SHARE,
  DEFAULT_NVIDIA_SMI,
  DEFAULT_VRAM_POLL_MS,
  DEFAULT_WARNING_SHARE,
} from '../config/defaults.js';
import { queryNvidiaSmi } from './nvidia-smi.js';
import type { GpuReading, NvidiaSmiResult } from './nvidia-smi.js';

/** A model in memory as OllamaEngine.ps() reports it (GET /api/ps). */
export interface LoadedModelMemory {
  name: string;
  /** Bytes in memory: weights plus KV cache. */
  size: number;
  /** Of those, bytes in GPU memory. */
  sizeVram: number;
  contextLength?: number | undefined;
}

/** Where loaded models come from: OllamaEngine fits, and the monitor needs nothing else of it. */
export interface ModelMemorySource {
  ps(): Promise<LoadedModelMemory[]>;
}

export interface VramMonitorOptions {
  /** nvidia-smi's path, or a name looked up on PATH (default `nvidia-smi`); null: no GPU of this machine is read (an engine on another host). */
  nvidiaSmiPath?: string | null;
  /** Time between polls (default 5 s). */
  intervalMs?: number;
  /** Share of a GPU's VRAM in use from which pressure is 'warning' (default 0.90). */
  warningShare?: number;
  /** ... and 'critical' (default 0.97). */
  criticalShare?: number;
  /** Ollama, for the loaded models; without it the snapshot lists none. */
  source?: ModelMemorySource;
}

export type GpuStatus = NvidiaSmiResult['status'];
export type VramPressure = 'normal' | 'warning' | 'critical';

export interface ModelMemory {
  name: string;
  sizeBytes: number;
  vramBytes: number;
  /** num_ctx it was loaded with, where Ollama reports it. */
  contextLength?: number;
  /** Part of the model is in system RAM. */
  spilled: boolean;
  /** That part, 0..1. */
  spilledShare: number;
}

export interface VramSnapshot {
  /** When the poll finished (ms since the epoch). */
  at: number;
  /** null unless status is 'ok'. */
  gpus: GpuReading[] | null;
  /** 'not-available': no nvidia-smi on this machine; 'error': it failed this time (see error). */
  status: GpuStatus;
  error?: string;
  /** Loaded models ([] without a source, or when /api/ps failed: see modelsError). */
  models: ModelMemory[];
  modelsError?: string;
  /** The fullest GPU's used / total; null without a reading. */
  usedShare: number | null;
  /** The most VRAM any one GPU had in use, over every poll so far. */
  peakUsedMiB: number | null;
  /** From usedShare; kept as it was while no reading comes in. */
  pressure: VramPressure;
  /** Sentences for a user: VRAM nearly full, models spilled to system RAM. */
  warnings: string[];
}

export interface VramMonitorEvents {
  snapshot: [VramSnapshot];
  pressure: [VramPressure, VramSnapshot];
}

const percent = (share: number): string => {
  const value = Math.round(share * 100);
  if (value === 0 && share > 0) return '<1';
  if (value === 100 && share < 1) return '>99';
  return String(value);
};
const gib = (mib: number): string => (mib / 1024).toFixed(1);

function modelMemory(model: LoadedModelMemory): ModelMemory {
  const spilledBytes = Math.max(0, model.size - model.sizeVram);
  const memory: ModelMemory = {
    name: model.name,
    sizeBytes: model.size,
    vramBytes: model.sizeVram,
    spilled: spilledBytes > 0,
    spilledShare: model.size > 0 ? spilledBytes / model.size : 0,
  };
  if (model.contextLength !== undefined) memory.contextLength = model.contextLength;
  return memory;
}

/** A GPU's used / total, where it reports both. */
function usedShareOf(gpu: GpuReading): number | null {
  return gpu.usedMiB !== null && gpu.totalMiB ? gpu.usedMiB / gpu.totalMiB : null;
}

function maxOf(values: (number | null)[]): number | null {
  const known = values.filter((value): value is number => value !== null);
  return known.length ? Math.max(...known) : null;
}

export class VramMonitor extends EventEmitter<VramMonitorEvents> {
  private readonly nvidiaSmiPath: string | null;
  private readonly intervalMs: number;
  private readonly warningShare: number;
  private readonly criticalShare: number;
  private readonly source: ModelMemorySource | undefined;
  /** nvidia-smi was not found: asking again every few seconds would only spawn a failing process. */
  private nvidiaSmiMissing = false;
  private latest: VramSnapshot | undefined;
  private peakUsedMiB: number | null = null;
  private pressure: VramPressure = 'normal';
  private inFlight: Promise<VramSnapshot> | undefined;
  /** The running poll loop; a loop that is no longer this one stops (start after stop). */
  private loop: object | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: VramMonitorOptions = {}) {
    super();
    this.nvidiaSmiPath = options.nvidiaSmiPath === undefined ? DEFAULT_NVIDIA_SMI : options.nvidiaSmiPath;
    this.intervalMs = options.intervalMs ?? DEFAULT_VRAM_POLL_MS;
    this.warningShare = options.warningShare ?? DEFAULT_WARNING_SHARE;
    this.criticalShare = options.criticalShare ?? DEFAULT_CRITICAL_SHARE;
    this.source = options.source;
    if (!(this.intervalMs > 0)) throw new RangeError(`intervalMs must be positive, not ${this.intervalMs}`);
    if (!(0 < this.warningShare && this.warningShare <= this.criticalShare && this.criticalShare <= 1)) {
      throw new RangeError(
        `need 0 < warningShare <= criticalShare <= 1, not ${this.warningShare} and ${this.criticalShare}`,
      );
    }
  }

  /** The latest poll's result; undefined before the first poll ends. */
  snapshot(): VramSnapshot | undefined {
    return this.latest;
  }

  /** Polls now and then every intervalMs; a second start is a no-op. */
  start(): void {
    if (this.loop) return;
    const loop = {};
    this.loop = loop;
    void this.tick(loop);
  }

  /** Stops polling; resolves once a poll in flight has ended. */
  async stop(): Promise<void> {
    this.loop = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight?.catch(() => undefined);
  }

  /** Polls at once (joining a poll in flight) and resolves with its snapshot. */
  pollNow(): Promise<VramSnapshot> {
    this.inFlight ??= this.poll().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async tick(loop: object): Promise<void> {
    // Only a listener can throw here; its bug must not end the polling.
    await this.pollNow().catch(() => undefined);
    if (this.loop !== loop) return;
    this.timer = setTimeout(() => void this.tick(loop), this.intervalMs);
    this.timer.unref();
  }

  private async poll(): Promise<VramSnapshot> {
    const [reading, models] = await Promise.all([this.readGpus(), this.readModels()]);
    const gpus = reading.status === 'ok' ? reading.gpus : null;
    const usedShare = gpus ? maxOf(gpus.map(usedShareOf)) : null;
    const peak = gpus ? maxOf([this.peakUsedMiB, ...gpus.map((gpu) => gpu.usedMiB)]) : null;
    if (peak !== null) this.peakUsedMiB = peak;
    const previous = this.pressure;
    if (usedShare !== null) this.pressure = this.pressureAt(usedShare);

    const snapshot: VramSnapshot = {
      at: Date.now(),
      gpus,
      status: reading.status,
      models: models.models,
      usedShare,
      peakUsedMiB: this.peakUsedMiB,
      pressure: this.pressure,
      warnings: [...this.gpuWarnings(gpus ?? []), ...spillWarnings(models.models, gpus)],
    };
    if (reading.status === 'error') snapshot.error = reading.error;
    if (models.error !== undefined) snapshot.modelsError = models.error;
    this.latest = snapshot;
    this.emit('snapshot', snapshot);
    if (this.pressure !== previous) this.emit('pressure', this.pressure, snapshot);
    return snapshot;
  }

  private async readGpus(): Promise<NvidiaSmiResult> {
    if (this.nvidiaSmiMissing || this.nvidiaSmiPath === null) return { status: 'not-available' };
    const result = await queryNvidiaSmi(this.nvidiaSmiPath);
    if (result.status === 'not-available') this.nvidiaSmiMissing = true;
    return result;
  }

  private async readModels(): Promise<{ models: ModelMemory[]; error?: string }> {
    if (!this.source) return { models: [] };
    try {
      return { models: (await this.source.ps()).map(modelMemory) };
    } catch (error) {
      return { models: [], error: error instanceof Error ? error.message : String(error) };
    }
  }

  private pressureAt(share: number): VramPressure {
    if (share >= this.criticalShare) return 'critical';
    return share >= this.warningShare ? 'warning' : 'normal';
  }

  private gpuWarnings(gpus: GpuReading[]): string[] {
    return gpus.flatMap((gpu) => {
      const share = usedShareOf(gpu);
      const level = share === null ? 'normal' : this.pressureAt(share);
      if (share === null || level === 'normal') return [];
      const close = level === 'critical' ? '; close to out of memory' : '';
      return [
        `GPU ${gpu.index} (${gpu.name}): ${percent(share)}% of VRAM in use (${gib(gpu.usedMiB!)} of ${gib(gpu.totalMiB!)} GiB)${close}`,
      ];
    });
  }
}

/**
 * A warning per model partly in system RAM. A model wholly in RAM on a machine with no GPU
 * seen is how a CPU-only Ollama runs, not a spill.
 */
function spillWarnings(models: ModelMemory[], gpus: GpuReading[] | null): string[] {
  return models
    .filter((model) => model.spilled && (model.vramBytes > 0 || (gpus?.length ?? 0) > 0))
    .map(
      (model) =>
        `${model.name}: ${percent(model.spilledShare)}% of the model is in system RAM (spilled from VRAM); it will run several times slower`,
    );
}

// One engine of the pool as the daemon keeps it for its whole life: the engine, its health
// (down after it stops answering, back when its health check answers) and its figures since
// the daemon started. What a batch does with it (its slots, its limits) is the runner's lanes.
import { setTimeout as sleep } from 'node:timers/promises';
import { isLoopbackUrl } from '../config/defaults.js';
import type { Engine } from '../engines/engine.js';
import type { EndpointStatus } from '../protocol/endpoints.js';
import { EngineModels, type ModelAliases } from './models.js';

/** The window the rate and mean latency are taken over. */
const RECENT_MS = 60_000;
/** The health check's first and longest wait between pings of a down endpoint: a ping is cheap, and an endpoint back sooner takes lines sooner. */
const FIRST_PROBE_MS = 100;
const MAX_PROBE_MS = 1000;

export interface EndpointSpec {
  name: string;
  engine: Engine;
  /** Where it listens, for displays; null for the in-process engine. */
  url: string | null;
  /** Requests in flight it takes: configured, or what the engine told; undefined where neither. */
  concurrency?: number | undefined;
  /** Relative speed before its answers show it (default 1). */
  weight?: number;
  modelAliases?: ModelAliases;
}

/** An answer's figures, for the endpoint's counts. */
export interface EndpointAnswer {
  latencyMs: number;
  promptTokens: number;
  completionTokens: number;
}

export class Endpoint {
  readonly name: string;
  readonly engine: Engine;
  readonly url: string | null;
  readonly concurrency: number | undefined;
  readonly weight: number;
  readonly models: EngineModels;
  private downSince: { reason: string; since: number } | null = null;
  private back: Promise<void> | null = null;
  private readonly listeners = new Set<(up: boolean) => void>();
  private readonly closed = new AbortController();
  private readonly counts = { answered: 0, errors: 0, hedged: 0, hedgesWon: 0, promptTokens: 0, completionTokens: 0 };
  /** Recent answers (when, how long), oldest first, for the rate and the mean latency. */
  private readonly recent: Array<{ at: number; latencyMs: number }> = [];
  /** What the running batch holds on it, for the status: set by its lane. */
  live = { inFlight: 0, concurrency: 0 };
  /** The latest memory reading's warnings for it (set by the daemon's VRAM monitors). */
  memoryWarnings: string[] = [];

  constructor(spec: EndpointSpec) {
    this.name = spec.name;
    this.engine = spec.engine;
    this.url = spec.url;
    this.concurrency = spec.concurrency;
    this.weight = spec.weight ?? 1;
    this.models = new EngineModels(spec.engine, spec.modelAliases);
  }

  /**
   * On this machine: the in-process engine, or a server on a loopback address. The daemon's
   * VRAM readings (nvidia-smi here, the default Ollama's /api/ps) are this machine's GPUs.
   */
  get local(): boolean {
    return this.url === null || isLoopbackUrl(this.url);
  }

  get up(): boolean {
    return this.downSince === null;
  }

  /** Calls `listener` with true when it comes back up, false when it goes down; returns the unsubscribe. */
  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** It stopped answering: no lines go to it until its health check answers again. */
  markDown(reason: string): void {
    if (this.downSince || this.closed.signal.aborted) return;
    this.downSince = { reason, since: Date.now() };
    this.back = this.probe().then(() => {
      this.back = null;
      if (this.closed.signal.aborted) return;
      this.downSince = null;
      for (const listener of this.listeners) listener(true);
    });
    for (const listener of this.listeners) listener(false);
  }

  /** Resolves when it is up (at once if it is), or when the daemon closes. */
  whenUp(): Promise<void> {
    return this.back ?? Promise.resolve();
  }

  answered(answer: EndpointAnswer): void {
    this.counts.answered++;
    this.counts.promptTokens += answer.promptTokens;
    this.counts.completionTokens += answer.completionTokens;
    const now = Date.now();
    this.recent.push({ at: now, latencyMs: answer.latencyMs });
    while (this.recent.length > 0 && now - this.recent[0]!.at > RECENT_MS) this.recent.shift();
  }

  failed(): void {
    this.counts.errors++;
  }

  /** A slow line's tail was re-sent here (a hedge). */
  hedged(): void {
    this.counts.hedged++;
  }

  /** ... and this copy answered first. */
  wonHedge(): void {
    this.counts.hedgesWon++;
  }

  /** Mean latency of its recent answers, ms; null before any. */
  meanLatencyMs(): number | null {
    if (this.recent.length === 0) return null;
    return this.recent.reduce((sum, answer) => sum + answer.latencyMs, 0) / this.recent.length;
  }

  status(): EndpointStatus {
    const now = Date.now();
    const recent = this.recent.filter((answer) => now - answer.at <= RECENT_MS);
    const span = recent.length > 0 ? Math.max(1, now - recent[0]!.at) / 1000 : 0;
    return {
      name: this.name,
      engine: this.engine.name,
      url: this.url,
      up: this.up,
      down: this.downSince,
      inFlight: this.live.inFlight,
      concurrency: this.live.concurrency || this.concurrency || 0,
      ...this.counts,
      requestsPerSecond: recent.length > 0 ? recent.length / Math.max(span, 1) : null,
      meanLatencyMs: this.meanLatencyMs(),
      ...(this.memoryWarnings.length > 0 && { memoryWarnings: this.memoryWarnings }),
    };
  }

  async close(): Promise<void> {
    this.closed.abort();
    await this.engine.close();
  }

  private async probe(): Promise<void> {
    const stop = this.closed.signal;
    for (let wait = FIRST_PROBE_MS; !stop.aborted; wait = Math.min(wait * 2, MAX_PROBE_MS)) {
      if (await this.engine.ping().catch(() => false)) return;
      await sleep(wait, undefined, { signal: stop }).catch(() => undefined);
    }
  }
}

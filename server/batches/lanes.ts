// Where a batch's tries go: one lane per endpoint that serves its model, each with its own
// slots and its own limits (lowered after out-of-memory answers and under VRAM pressure, raised
// back after answers in a row). A try takes a free slot on whichever lane is up and has one, so
// a faster endpoint, freeing its slots sooner, takes more lines (work stealing). The batch waits
// only while every lane's endpoint is down.
import { MIN_NUM_CTX, numCtxAfterOutOfMemory } from '../context/num-ctx.js';
import type { Adjustment } from '../protocol/metrics.js';
import type { VramPressure } from '../gpu/vram-monitor.js';
import type { Endpoint } from '../pool/endpoint.js';
import type { ServingEndpoint } from '../pool/pool.js';

/** Answers in a row at one concurrency, none out of memory, that show the concurrency holds. */
const ANSWERS_TO_HOLD = 20;

/** One endpoint's share of a batch: its slots, its concurrency and num_ctx as they adapt. */
export class Lane {
  readonly endpoint: Endpoint;
  /** The name this endpoint serves the batch's model under. */
  readonly model: string;
  /** Tries on it now, and the most it takes at once now. */
  used = 0;
  limit: number;
  numCtx: number | undefined;
  /** Recovery after running out of memory climbs back to it, never above. */
  private readonly configuredConcurrency: number;
  /** Bumped at every adjustment: an out-of-memory answer to a request sent before it lowers nothing more. */
  version = 0;
  /** The concurrency before VRAM pressure lowered it, while it lasts. */
  private limitBeforePressure: number | null = null;
  /** Answers in a row to requests sent at the limits as they are (an adjustment starts the count again). */
  private answersAtLimits = 0;
  /** The most concurrency that gave ANSWERS_TO_HOLD answers in a row and has not run out of memory since; 0 for none. */
  private heldConcurrency = 0;
  /** Raises that ran out of memory: each doubles the answers the next raise waits for. */
  private failedRaises = 0;

  constructor(
    serving: ServingEndpoint,
    concurrency: number,
    numCtx: number | undefined,
    /** The lane's limits changed; the lanes pass it on (with the endpoint's name where there are several). */
    private readonly onAdjusted: (lane: Lane, adjustment: Adjustment) => void,
  ) {
    this.endpoint = serving.endpoint;
    this.model = serving.model;
    this.configuredConcurrency = this.limit = Math.max(1, concurrency);
    this.numCtx = numCtx;
  }

  /** Free slots: none while its endpoint is down. */
  get free(): number {
    return this.endpoint.up ? Math.max(0, this.limit - this.used) : 0;
  }

  /** Under VRAM pressure requests are trimmed aggressively. */
  get pressed(): boolean {
    return this.limitBeforePressure !== null;
  }

  /** What the next batch may learn: the most concurrency that held (before any held, the current one), num_ctx as it is. */
  get heldLimits(): { concurrency: number; numCtx: number | undefined } {
    return { concurrency: this.heldConcurrency || this.limit, numCtx: this.numCtx };
  }

  take(): void {
    this.used++;
    this.endpoint.live = { inFlight: this.used, concurrency: this.limit };
  }

  give(): void {
    this.used--;
    this.endpoint.live.inFlight = this.used;
  }

  /** Above the warning level the concurrency halves (and trimming turns aggressive); back to normal, it returns. */
  setPressure(level: VramPressure): void {
    const pressed = level !== 'normal';
    if (pressed === this.pressed) return;
    if (pressed) {
      this.limitBeforePressure = this.limit;
      this.adjust(`VRAM ${level}: aggressive trimming, concurrency halved`, Math.ceil(this.limit / 2));
    } else {
      const before = this.limitBeforePressure!;
      this.limitBeforePressure = null;
      this.adjust('VRAM back to normal: trimming and concurrency as before', Math.max(this.limit, before));
    }
  }

  /**
   * After an out-of-memory answer: back to the most concurrency that held when this was more,
   * else half the concurrency, then at 1 a smaller num_ctx. False when nothing is left to lower.
   */
  lowerAfterOutOfMemory(sentAt: number): boolean {
    if (sentAt !== this.version) return true; // already lowered since that request went out
    this.answersAtLimits = 0; // even where nothing is left to lower: the answers in a row start again
    const concurrency = this.limit;
    if (this.heldConcurrency > 0 && concurrency > this.heldConcurrency) {
      // A raise (or the end of VRAM pressure) went past what held: back to it, and try again later.
      this.failedRaises++;
      this.adjust(
        `out of memory at concurrency ${concurrency}: back to ${this.heldConcurrency}, the most that held`,
        this.heldConcurrency,
      );
      return true;
    }
    // What held runs out now (something else took the memory): what holds is learned again from below.
    this.heldConcurrency = 0;
    if (concurrency > 1) {
      this.adjust('out of memory: concurrency halved', Math.floor(concurrency / 2));
      return true;
    }
    // num_ctx stays lowered for the rest of the run: one request alone did not fit, which more
    // answers will not change, and every new num_ctx reloads an Ollama model.
    if (this.numCtx !== undefined && this.numCtx > MIN_NUM_CTX) {
      this.adjust('out of memory at concurrency 1: num_ctx lowered', 1, numCtxAfterOutOfMemory(this.numCtx));
      return true;
    }
    return false;
  }

  /**
   * An answer to a request sent at the limits as they are. ANSWERS_TO_HOLD in a row show the
   * concurrency holds, and it goes one up (after twice as many for every raise that ran out of
   * memory), up to the configured concurrency, or half of it under VRAM pressure.
   */
  answeredAt(sentAt: number): void {
    if (sentAt !== this.version) return;
    const concurrency = this.limit;
    this.answersAtLimits++;
    if (this.answersAtLimits >= ANSWERS_TO_HOLD) this.heldConcurrency = Math.max(this.heldConcurrency, concurrency);
    const ceiling =
      this.limitBeforePressure === null ? this.configuredConcurrency : Math.ceil(this.limitBeforePressure / 2);
    if (concurrency < ceiling && this.answersAtLimits >= ANSWERS_TO_HOLD * 2 ** this.failedRaises) {
      this.adjust(
        `recovered after ${this.answersAtLimits} answers without running out of memory: concurrency raised`,
        concurrency + 1,
      );
    }
  }

  private adjust(reason: string, concurrency: number, numCtx = this.numCtx): void {
    this.version++;
    this.answersAtLimits = 0;
    this.limit = concurrency;
    this.numCtx = numCtx;
    this.endpoint.live.concurrency = concurrency;
    this.onAdjusted(this, { at: Date.now(), reason, concurrency, ...(numCtx !== undefined && { numCtx }) });
  }
}

/**
 * The lanes of one run. A line holds a place while it is open (at most as many lines as all
 * lanes' slots), and each of its tries a slot on a lane.
 */
export class Lanes {
  readonly lanes: readonly Lane[];
  private openLines = 0;
  /** Each is called with true when handed a place, false when the run stops. */
  private readonly lineWaiters: Array<(granted: boolean) => void> = [];
  private readonly tryWaiters: Array<(lane: Lane | null) => void> = [];
  private drained: (() => void) | null = null;
  private readonly unsubscribe: Array<() => void>;
  private paused = false;

  constructor(
    serving: readonly ServingEndpoint[],
    concurrencyOf: (serving: ServingEndpoint) => number,
    numCtx: number | undefined,
    private readonly hooks: {
      onAdjusted(adjustment: Adjustment): void;
      /** A reason while every lane's endpoint is down, null when one is back. */
      onPause(reason: string | null): void;
      /** Slots are free and no try waits for one (the runner may hedge a slow line's tail). */
      onIdleSlots(): void;
    },
    private readonly stop: AbortSignal,
  ) {
    const named = serving.length > 1;
    const onAdjusted = (lane: Lane, adjustment: Adjustment): void => {
      this.hooks.onAdjusted(named ? { ...adjustment, endpoint: lane.endpoint.name } : adjustment);
      this.pump();
    };
    this.lanes = serving.map((entry) => new Lane(entry, concurrencyOf(entry), numCtx, onAdjusted));
    this.unsubscribe = this.lanes.map((lane) => lane.endpoint.onChange(() => this.endpointsChanged()));
    stop.addEventListener('abort', () => this.wakeAll(), { once: true });
    this.endpointsChanged();
  }

  /** Waits for a place for one more open line (false when the run stops first). */
  async openLine(): Promise<boolean> {
    if (this.stop.aborted) return false;
    if (this.openLines < this.capacity()) {
      this.openLines++;
      return true;
    }
    return new Promise<boolean>((resolve) => this.lineWaiters.push(resolve));
  }

  closeLine(): void {
    this.openLines--;
    this.pump();
    if (this.openLines === 0) this.drained?.();
  }

  /** Resolves once no line is open. */
  idle(): Promise<void> {
    if (this.openLines === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  /** A slot for one try, on the lane best placed to take it; null when the run stops first. */
  takeSlot(): Promise<Lane | null> {
    if (this.stop.aborted) return Promise.resolve(null);
    const lane = this.tryWaiters.length === 0 ? this.best() : undefined;
    if (lane) {
      lane.take();
      return Promise.resolve(lane);
    }
    return new Promise((resolve) => this.tryWaiters.push(resolve));
  }

  /** A free slot on a lane other than `except` that `wanted` takes, taken at once, for a hedge; undefined when none. */
  takeSpareSlot(except: Lane, wanted: (lane: Lane) => boolean): Lane | undefined {
    if (this.tryWaiters.length > 0) return undefined;
    const lane = this.best((candidate) => candidate !== except && wanted(candidate));
    lane?.take();
    return lane;
  }

  giveSlot(lane: Lane): void {
    lane.give();
    this.pump();
  }

  /**
   * VRAM pressure from the daemon's monitor, which reads this machine's GPUs: it holds for a
   * lone endpoint (where else would its reading be), and in a pool for the endpoints on this machine.
   */
  setPressure(level: VramPressure): void {
    for (const lane of this.lanes) if (this.lanes.length === 1 || lane.endpoint.local) lane.setPressure(level);
  }

  close(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
  }

  /** The most lines open at once: every lane's slots, so that each can be kept busy. */
  private capacity(): number {
    return this.lanes.reduce((sum, lane) => sum + lane.limit, 0);
  }

  /** The up lane with the most free slots for its weight (of those `allowed`); undefined when none has one. */
  private best(allowed: (lane: Lane) => boolean = () => true): Lane | undefined {
    let best: Lane | undefined;
    for (const lane of this.lanes) {
      if (lane.free === 0 || !allowed(lane)) continue;
      if (!best || lane.free * lane.endpoint.weight > best.free * best.endpoint.weight) best = lane;
    }
    return best;
  }

  /** Hands free slots and places to those waiting; tells the runner where slots stay free. */
  private pump(): void {
    while (this.tryWaiters.length > 0) {
      const lane = this.best();
      if (!lane) break;
      lane.take();
      this.tryWaiters.shift()!(lane);
    }
    while (this.lineWaiters.length > 0 && this.openLines < this.capacity()) {
      this.openLines++;
      this.lineWaiters.shift()!(true);
    }
    if (this.tryWaiters.length === 0 && this.best()) this.hooks.onIdleSlots();
  }

  private endpointsChanged(): void {
    const down = this.lanes.filter((lane) => !lane.endpoint.up);
    const allDown = down.length === this.lanes.length;
    if (allDown !== this.paused) {
      this.paused = allDown;
      const reasons = down.map((lane) => lane.endpoint.status().down?.reason ?? 'not answering');
      const reason =
        this.lanes.length === 1
          ? reasons[0]!
          : down.map((lane, index) => `${lane.endpoint.name}: ${reasons[index]}`).join('; ');
      this.hooks.onPause(allDown ? `engine unreachable: ${reason}` : null);
    }
    this.pump();
  }

  private wakeAll(): void {
    for (const waiter of this.tryWaiters.splice(0)) waiter(null);
    for (const waiter of this.lineWaiters.splice(0)) waiter(false);
  }
}

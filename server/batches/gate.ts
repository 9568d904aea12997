// Pauses a batch while its engine does not answer, and opens again by itself once it does,
// instead of failing every remaining line during an outage.
import { setTimeout as sleep } from 'node:timers/promises';

export class EngineGate {
  private reopened: Promise<void> | null = null;

  constructor(
    private readonly ping: () => Promise<boolean>,
    private readonly onChange: (reason: string | null) => void,
    private readonly stop: AbortSignal,
    private readonly maxProbeIntervalMs = 5000,
  ) {}

  /** Resolves at once while the engine is up, else when it is back (or the run stops). */
  whenOpen(): Promise<void> | null {
    return this.reopened;
  }

  close(reason: string): void {
    if (this.reopened) return;
    this.onChange(`engine unreachable: ${reason}`);
    this.reopened = this.probe().then(() => {
      this.reopened = null;
      this.onChange(null);
    });
  }

  private async probe(): Promise<void> {
    for (let interval = 100; !this.stop.aborted; interval = Math.min(interval * 2, this.maxProbeIntervalMs)) {
      if (await this.ping().catch(() => false)) return;
      await sleep(interval, undefined, { signal: this.stop }).catch(() => undefined);
    }
  }
}

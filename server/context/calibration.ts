// How far our token estimate (gpt-tokenizer's o200k) is from a model's own tokenizer, learned
// from the prompt_tokens the engine reports. The factor errs high: a request we think fits but
// does not would be cut by the engine without a word.
import { SAFETY_MARGIN } from './tokens.js';

/** Weight of a new observation once the first few have been averaged plainly. */
const SMOOTHING = 0.1;
/** Standard deviations of the ratio added on top of its mean. */
const SPREAD_CUSHION = 2;

export interface CalibrationState {
  /** model tokens ÷ estimated tokens, averaged */
  mean: number;
  variance: number;
  observations: number;
}

export class Calibration {
  private state: CalibrationState | null;

  constructor(saved?: CalibrationState | null) {
    this.state = saved ? { ...saved } : null;
  }

  /** The factor to multiply an estimate by: the safety margin until the engine has answered. */
  get factor(): number {
    if (!this.state) return SAFETY_MARGIN;
    return this.state.mean + SPREAD_CUSHION * Math.sqrt(this.state.variance);
  }

  get calibrated(): boolean {
    return this.state !== null;
  }

  /** An estimate in the model's tokens. */
  apply(estimated: number): number {
    return Math.ceil(estimated * this.factor);
  }

  /** Learns from one answered request: what we estimated and what the engine counted. */
  observe(estimated: number, reported: number): void {
    if (estimated <= 0 || reported <= 0) return;
    const ratio = reported / estimated;
    // Far under the mean: an engine that counted only the prompt tokens it evaluated, not those
    // it served from its cache (Ollama before 0.30). It says nothing of the tokenizer.
    if (this.state && ratio < this.state.mean / 2) return;
    if (!this.state) {
      this.state = { mean: ratio, variance: 0, observations: 1 };
      return;
    }
    const state = this.state;
    state.observations++;
    // A plain mean at first (fast convergence), then an exponential one (follows drift).
    const weight = Math.max(SMOOTHING, 1 / state.observations);
    const delta = ratio - state.mean;
    state.mean += weight * delta;
    state.variance = (1 - weight) * (state.variance + weight * delta * delta);
  }

  toJSON(): CalibrationState | null {
    return this.state && { ...this.state };
  }
}

// The plan a batch runs by, from facts alone (the queue gathers them; nothing here does I/O):
// how many requests go at once, the num_ctx it loads the model with, how conversations over it
// are trimmed, and the time and tries each request gets.
import { DEFAULT_CONCURRENCY, DEFAULT_WARNING_SHARE } from '../config/defaults.js';
import { SETTINGS } from '../config/settings.js';
import type { PromptCounter } from '../context/budget.js';
import type { Calibration } from '../context/calibration.js';
import type { BatchMode } from '../context/conversation.js';
import { chooseNumCtx, type NumCtxChoice } from '../context/num-ctx.js';
import type { TrimStrategy } from '../context/trim.js';
import type { ModelFacts } from '../engines/engine.js';
import { numCtxForVram } from '../gpu/vram-budget.js';
import type { VramSnapshot } from '../gpu/vram-monitor.js';
import type { BatchRunOptions, LearnedLimits, MeasuredRequests, PilotState } from '../store/store.js';
import { DEFAULT_RUNNER_OPTIONS, type RunContext, type RunnerOptions } from './runner.js';

/** The daemon's settings for every batch; a batch's own options go first. */
export interface RunSettings extends Partial<Omit<RunnerOptions, 'concurrency' | 'context' | 'model'>> {
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
  vramWarningShare?: number;
  /** Invalid answers get one more try (off by default). */
  retryInvalid?: boolean;
  /** The pilot check: its answers (0: off) and the share of them that may be invalid. */
  pilotAnswers?: number;
  pilotMaxInvalid?: number;
}

/** What a plan is made from. */
export interface RunFacts {
  /** The batch's model as the engine serves it (a model alias's target). */
  model: string;
  /** What the batch asked for at creation (its options and metadata). */
  options: BatchRunOptions;
  /** The num_ctx chosen at the batch's first run: kept, since another one reloads an Ollama model. */
  chosenNumCtx?: NumCtxChoice | undefined;
  /** A cancelling batch sends nothing more: no num_ctx is chosen for it. */
  cancelling: boolean;
  measured: MeasuredRequests;
  calibration: Calibration;
  /** The engine's parallel slots, where it tells them. */
  slots?: number | undefined;
  /** What the engine tells of the model (its context length, its KV cache per token). */
  engine?: ModelFacts;
  /** What held on these GPUs after this model last ran out of memory. */
  learned?: LearnedLimits | undefined;
  /** A fresh VRAM reading; none: no VRAM cap. */
  vram?: VramSnapshot | undefined;
  /** Where the batch's pilot check stands: once passed or overridden, it is not made again. */
  pilot?: PilotState | undefined;
  settings: RunSettings;
}

export interface RunPlan {
  /** The name requests are sent to the engine under. */
  model: string;
  concurrency: number;
  /** The batch's num_ctx and what set it; undefined for a batch cancelled before its first run. */
  numCtx: NumCtxChoice | undefined;
  trim: Omit<RunContext, 'counter' | 'calibration'>;
  budgets: Pick<RunnerOptions, 'requestTimeoutMs' | 'maxAttempts' | 'backoffBaseMs' | 'backoffMaxMs'>;
  answers: Pick<RunnerOptions, 'retryInvalid' | 'pilot'>;
}

/** Whether a run must choose its batch's num_ctx, and so needs the facts that choice reads. */
export const choosesNumCtx = (facts: Pick<RunFacts, 'chosenNumCtx' | 'cancelling'>): boolean =>
  !facts.chosenNumCtx && !facts.cancelling;

export function planRun(facts: RunFacts): RunPlan {
  const { options, settings, learned } = facts;
  let concurrency = options.concurrency ?? settings.concurrency ?? facts.slots ?? DEFAULT_CONCURRENCY;
  if (learned && learned.concurrency < concurrency) concurrency = learned.concurrency;
  const trimEvery = options.trimEvery ?? settings.trimEvery;
  const aggressiveFraction = options.aggressiveFraction ?? settings.aggressiveFraction;
  return {
    model: facts.model,
    concurrency,
    numCtx: choosesNumCtx(facts) ? batchNumCtx(facts, concurrency) : facts.chosenNumCtx,
    trim: {
      mode: options.mode ?? settings.mode ?? 'independent',
      ...(trimEvery !== undefined && { trimEvery }),
      strategy: options.trimStrategy ?? settings.trimStrategy ?? 'sliding-window',
      ...(aggressiveFraction !== undefined && { aggressiveFraction }),
      ...((options.trimAllowCut ?? settings.trimAllowCut) && { allowCut: true }),
    },
    budgets: budgetsOf(settings),
    answers: answerChecksOf(facts),
  };
}

/** The retry of invalid answers, and the pilot check while the batch has no verdict (and it is on). */
function answerChecksOf({ options, settings, pilot }: RunFacts): RunPlan['answers'] {
  const answers = options.pilotAnswers ?? settings.pilotAnswers ?? SETTINGS.pilotAnswers.default!;
  const maxInvalidShare = options.pilotMaxInvalid ?? settings.pilotMaxInvalid ?? SETTINGS.pilotMaxInvalid.default!;
  return {
    retryInvalid: options.retryInvalid ?? settings.retryInvalid ?? SETTINGS.retryInvalid.default!,
    ...(pilot === undefined && answers > 0 && { pilot: { answers, maxInvalidShare } }),
  };
}

/** Time and tries per request: the settings, else the runner's defaults. */
export function budgetsOf(settings: RunSettings): RunPlan['budgets'] {
  return {
    requestTimeoutMs: settings.requestTimeoutMs ?? DEFAULT_RUNNER_OPTIONS.requestTimeoutMs,
    maxAttempts: settings.maxAttempts ?? DEFAULT_RUNNER_OPTIONS.maxAttempts,
    backoffBaseMs: settings.backoffBaseMs ?? DEFAULT_RUNNER_OPTIONS.backoffBaseMs,
    backoffMaxMs: settings.backoffMaxMs ?? DEFAULT_RUNNER_OPTIONS.backoffMaxMs,
  };
}

/** One num_ctx for the batch: its longest request and answer in the model's tokens, within every limit. */
function batchNumCtx(facts: RunFacts, concurrency: number): NumCtxChoice {
  const { measured, engine = {}, learned, settings } = facts;
  const vramLimit = numCtxForVram(facts.vram, {
    model: facts.model,
    kvBytesPerToken: engine.kvBytesPerToken,
    slots: concurrency,
    warningShare: settings.vramWarningShare ?? DEFAULT_WARNING_SHARE,
  });
  const setting = facts.options.numCtx ?? settings.numCtx;
  return chooseNumCtx({
    longestRequest: facts.calibration.apply(measured.longestPrompt) + measured.longestOutput,
    ...(setting !== undefined && { setting }),
    ...(engine.contextLength !== undefined && { modelLimit: engine.contextLength }),
    ...(learned?.numCtx !== undefined && { learnedLimit: learned.numCtx }),
    ...(vramLimit !== undefined && { vramLimit }),
  });
}

/** The runner's options for a plan; the counter and the calibration go on learning as it runs. */
export function runnerOptions(plan: RunPlan, counter: PromptCounter, calibration: Calibration): RunnerOptions {
  return {
    ...plan.budgets,
    ...plan.answers,
    concurrency: plan.concurrency,
    ...(plan.numCtx && { numCtx: plan.numCtx.numCtx }),
    context: { ...plan.trim, counter, calibration },
  };
}

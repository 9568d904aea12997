// The pre-run estimate of a converted batch: prompt tokens per line, the prefix every line shares
// (what the engine's KV cache reuses), the lines too long for the context window, and an ETA once
// the engine's pace for the model is known. Memory stays flat: a histogram of the (few distinct)
// token counts instead of one number per line.
import { bucketAtRank, nearestRank } from '../common/percentile.js';
import { Calibration } from '../context/calibration.js';
import {
  calibrated,
  chatOverheadTokens,
  countTextTokens,
  SAFETY_MARGIN,
  TOKENS_PER_MESSAGE,
} from '../context/tokens.js';
import { ASSUMED_NUM_CTX, chooseNumCtx } from '../context/num-ctx.js';
import type { ModelStats } from '../store/store.js';
import type { Projection } from '../protocol/jobs.js';

export interface Throughput {
  requestsPerSecond: number;
}

/** What the daemon learned of a model (its tokenizer, its pace, the num_ctx that held) as the estimate's inputs. */
export function learnedInputs(
  stats: ModelStats,
): Pick<EstimateOptions, 'calibrationFactor' | 'throughput' | 'learnedNumCtx'> {
  // Limits are learned per set of GPUs; not knowing which runs the batch, take the smallest.
  const learned = Object.values(stats.limits ?? {}).flatMap((limits) => limits.numCtx ?? []);
  return {
    ...(stats.calibration && { calibrationFactor: new Calibration(stats.calibration).factor }),
    ...(stats.requestsPerSecond && { throughput: { requestsPerSecond: stats.requestsPerSecond } }),
    ...(learned.length > 0 && { learnedNumCtx: Math.min(...learned) }),
  };
}

export type NumCtxSource = ConvertEstimate['num_ctx_source'];

/**
 * The num_ctx the run will use, as far as it is known before the run (batches/run-planner.ts
 * chooses it with the same rule): the setting, else the assumed default, within the model's own
 * limit and the num_ctx learned to hold. An estimate against a larger one promised lines a fit
 * the run could not give them (issue 17: "fits num_ctx 8,192" where the run had 4,095).
 */
export function plannedNumCtx(options: Pick<EstimateOptions, 'numCtx' | 'modelContextLength' | 'learnedNumCtx'>): {
  numCtx: number;
  source: NumCtxSource;
} {
  const { numCtx, reason } = chooseNumCtx({
    longestRequest: 0,
    setting: options.numCtx ?? ASSUMED_NUM_CTX,
    ...(options.modelContextLength !== undefined && { modelLimit: options.modelContextLength }),
    ...(options.learnedNumCtx !== undefined && { learnedLimit: options.learnedNumCtx }),
  });
  if (reason === 'model limit' || reason === 'learned limit') return { numCtx, source: reason };
  return { numCtx, source: options.numCtx === undefined ? 'assumed' : 'setting' };
}

export interface EstimateOptions {
  systemPrompt?: string;
  /** The requests' reasoning_effort; undefined leaves thinking to the model. */
  reasoningEffort?: string;
  /** The compact score-only answer of a cascade's first pass (e.g. `{"score":100}`), if any. */
  scoreAnswer?: string;
  /** The share of rows a cascade's second pass explains, for the projection (default 10%). */
  shortlistShare?: number;
  /** The num_ctx setting the run will use; unset: the assumed default. Either within the limits below. */
  numCtx?: number;
  /** The model's own context limit, as the engine tells it. */
  modelContextLength?: number;
  /** The num_ctx learned to hold for the model (after it ran out of memory). */
  learnedNumCtx?: number;
  maxTokens?: number;
  /** Model tokens per o200k token, learned from a batch with this model; else the safety margin. */
  calibrationFactor?: number;
  throughput?: Throughput;
}

/** Every token figure is in the model's tokens: o200k_base counts times calibration_factor. */
export interface ConvertEstimate {
  calibration_factor: number;
  /** 'learned' from an engine's prompt_tokens, or the default 'safety_margin'. */
  calibration: 'learned' | 'safety_margin';
  lines: number;
  prompt_tokens: { min: number; mean: number; p95: number; max: number; total: number } | null;
  /** The system prompt and the template's static start, the same on every line. */
  shared_prefix_tokens: number;
  max_tokens: number | null;
  /** max_tokens times the lines: the most the batch may generate. */
  output_tokens_budget: number | null;
  /** The context window the lines must fit (prompt and max_tokens together), and what set it. */
  num_ctx: number;
  num_ctx_source: 'setting' | 'assumed' | 'model limit' | 'learned limit';
  /** Lines whose prompt plus max_tokens exceed num_ctx. */
  lines_over_context: number;
  /** The custom_ids of the first of them. */
  over_context_ids: string[];
  requests_per_second: number | null;
  eta_seconds: number | null;
  /** Time per line from tokens and rates: single pass, thinking's cost, and a cascade. */
  projection: Projection;
}

/**
 * Projected engine time from tokens per line and an engine's rates: a line costs its evaluated
 * prompt tokens (the shared prefix comes from the KV cache) at the prefill rate plus its
 * generated tokens at the decode rate. Without learned figures the rates are published ones for
 * a 16 GB card running a 12B Q4 model (README, "The cascade"), and the answer's length is the
 * sample job's full answer on such a model: a projection, not a measurement.
 */
export type { Projection };

/** Published single-stream rates of a 12B Q4 model on a 16 GB card (README, "The cascade"). */
export const PUBLISHED_RATES = { prefill: 1000, decode: 30 };
/** Generated tokens of the sample job's full answer on a Gemma-like 12B model (issue 15). */
export const ASSUMED_ANSWER_TOKENS = 75;
/** Thinking tokens per answer assumed by effort: an order of magnitude, to show what thinking costs. */
const ASSUMED_THINKING_TOKENS: Record<string, number> = { low: 256, medium: 1024, high: 4096, 'model default': 1024 };
export const DEFAULT_SHORTLIST_SHARE = 0.1;

/** What thinking the requests ask for, in words. */
export function thinkingOf(reasoningEffort: string | undefined): string {
  if (reasoningEffort === undefined) return 'model default';
  return reasoningEffort === 'none' || reasoningEffort === 'minimal' ? 'off' : reasoningEffort;
}

const LISTED_OVER_CONTEXT = 5;
/** Lines estimated above this share of the context window are worth an exact count. */
const NEAR_CONTEXT_LIMIT = 0.9;

export class EstimateAccumulator {
  private readonly factor: number;
  private readonly numCtx: ReturnType<typeof plannedNumCtx>;
  private readonly systemTokens: number;
  private readonly messages: number;
  /** Distinct prompt token counts (o200k, chat overhead included) and how many lines have each. */
  private readonly histogram = new Map<number, number>();
  private lines = 0;
  private total = 0;
  private linesOverContext = 0;
  private readonly overContextIds: string[] = [];
  /** The longest start that every user message so far has in common; null before the first. */
  private prefix: string | null = null;

  constructor(private readonly options: EstimateOptions) {
    this.factor = options.calibrationFactor ?? SAFETY_MARGIN;
    this.numCtx = plannedNumCtx(options);
    this.systemTokens = options.systemPrompt === undefined ? 0 : countTextTokens(options.systemPrompt);
    this.messages = options.systemPrompt === undefined ? 1 : 2;
  }

  /** Whether a line whose user message has this many tokens comes near the context window. */
  nearContextLimit(userTokens: number): boolean {
    return this.contextTokens(userTokens) > this.numCtx.numCtx * NEAR_CONTEXT_LIMIT;
  }

  /** One line: its id, its user message and that message's token count. */
  add(customId: string, userMessage: string, userTokens: number): void {
    const tokens = this.promptTokens(userTokens);
    this.lines++;
    this.total += tokens;
    this.histogram.set(tokens, (this.histogram.get(tokens) ?? 0) + 1);
    if (this.contextTokens(userTokens) > this.numCtx.numCtx) {
      this.linesOverContext++;
      if (this.overContextIds.length < LISTED_OVER_CONTEXT) this.overContextIds.push(customId);
    }
    this.narrowPrefix(userMessage);
  }

  /** A line's prompt in o200k tokens, chat template included. */
  private promptTokens(userTokens: number): number {
    return chatOverheadTokens(this.messages) + this.systemTokens + userTokens;
  }

  /** What a line takes of the context window: its prompt in model tokens, and max_tokens. */
  private contextTokens(userTokens: number): number {
    return calibrated(this.promptTokens(userTokens), this.factor) + (this.options.maxTokens ?? 0);
  }

  private narrowPrefix(message: string): void {
    if (this.prefix === null) {
      this.prefix = message;
    } else if (!message.startsWith(this.prefix)) {
      let length = 0;
      while (length < this.prefix.length && this.prefix.charCodeAt(length) === message.charCodeAt(length)) length++;
      this.prefix = this.prefix.slice(0, length);
    }
  }

  result(): ConvertEstimate {
    const { maxTokens, throughput } = this.options;
    const model = (count: number): number => calibrated(count, this.factor);
    const rate = throughput && throughput.requestsPerSecond > 0 ? throughput.requestsPerSecond : null;
    return {
      calibration_factor: this.factor,
      calibration: this.options.calibrationFactor === undefined ? 'safety_margin' : 'learned',
      lines: this.lines,
      prompt_tokens: this.lines === 0 ? null : this.promptTokenSpread(model),
      shared_prefix_tokens: this.lines === 0 ? 0 : model(this.sharedPrefixTokens()),
      max_tokens: maxTokens ?? null,
      output_tokens_budget: maxTokens === undefined ? null : maxTokens * this.lines,
      num_ctx: this.numCtx.numCtx,
      num_ctx_source: this.numCtx.source,
      lines_over_context: this.linesOverContext,
      over_context_ids: this.overContextIds,
      requests_per_second: rate,
      eta_seconds: rate === null ? null : Math.round(this.lines / rate),
      projection: this.projection(model, rate),
    };
  }

  private projection(model: (count: number) => number, learnedRate: number | null): Projection {
    const { maxTokens, scoreAnswer } = this.options;
    const { prefill, decode } = PUBLISHED_RATES;
    const evaluated =
      this.lines === 0 ? 0 : Math.max(0, model(this.total / this.lines) - model(this.sharedPrefixTokens()));
    const bounded = (tokens: number): number => (maxTokens === undefined ? tokens : Math.min(tokens, maxTokens));
    const answer = bounded(ASSUMED_ANSWER_TOKENS);
    const thinking = thinkingOf(this.options.reasoningEffort);
    const thinkingTokens =
      thinking === 'off' ? 0 : Math.max(0, bounded(answer + (ASSUMED_THINKING_TOKENS[thinking] ?? 0)) - answer);
    const lineSeconds = (generated: number): number => evaluated / prefill + generated / decode;
    const singleLine = lineSeconds(answer + thinkingTokens);
    // A learned pace sets the scale; the token model gives the ratios.
    const scale = learnedRate === null ? 1 : 1 / learnedRate / singleLine;
    const seconds = (perLine: number): number => Math.round(this.lines * perLine * scale);
    const share = this.options.shortlistShare ?? DEFAULT_SHORTLIST_SHARE;
    // The score is asked without thinking: one number needs no reasoning, and thinking would cost more than the answer.
    const scoreTokens = scoreAnswer === undefined ? 0 : model(countTextTokens(scoreAnswer)) + 1;
    const cascadeLine = lineSeconds(scoreTokens) + share * singleLine;
    return {
      prefill_tokens_per_second: prefill,
      decode_tokens_per_second: decode,
      evaluated_prompt_tokens: evaluated,
      answer_tokens: answer,
      thinking,
      thinking_tokens: thinkingTokens,
      single_pass_seconds: seconds(singleLine),
      single_pass_seconds_without_thinking: seconds(lineSeconds(answer)),
      cascade:
        scoreAnswer === undefined
          ? null
          : {
              score_tokens: scoreTokens,
              shortlist_share: share,
              seconds: seconds(cascadeLine),
              ratio: cascadeLine / singleLine,
            },
    };
  }

  private promptTokenSpread(model: (count: number) => number): NonNullable<ConvertEstimate['prompt_tokens']> {
    const counts = [...this.histogram.keys()].sort((a, b) => a - b);
    const p95 =
      counts[
        bucketAtRank(
          counts.map((count) => this.histogram.get(count)!),
          nearestRank(0.95, this.lines),
        )
      ]!;
    return {
      min: model(counts[0]!),
      mean: model(this.total / this.lines),
      p95: model(p95),
      max: model(counts.at(-1)!),
      total: model(this.total),
    };
  }

  /** The system message and the user message's role tokens and common start, the same on every line. */
  private sharedPrefixTokens(): number {
    return this.messages * TOKENS_PER_MESSAGE + this.systemTokens + countTextTokens(this.prefix ?? '');
  }
}

// Each request of a batch measured against the context it will run in, as the editor sees it: our
// token estimate scaled by the model's calibration, plus its answer budget, against num_ctx.
import { PromptCounter, outputTokensOf } from '../context/budget.js';
import { Calibration } from '../context/calibration.js';
import { REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE } from '../context/tokens.js';
import { messageText } from '../openai/chat.js';
import type { ChatCompletionBody } from '../protocol/openai.js';
import type { ModelStats } from '../store/store.js';
import { ASSUMED_NUM_CTX } from '../context/num-ctx.js';

export interface Measurement {
  model: string;
  /** Prompt tokens in the model's tokens (calibrated estimate). */
  promptTokens: number;
  outputTokens: number;
  /** Which field set outputTokens, or 'default'. */
  outputSource: 'max_completion_tokens' | 'max_tokens' | 'default';
  numCtx: number;
  numCtxSource: 'ollamaBatch.numCtx' | 'learned limit' | 'default';
  calibration: Calibration;
  fits: boolean;
}

interface ModelContext {
  calibration: Calibration;
  numCtx: number;
  numCtxSource: Measurement['numCtxSource'];
}

/** An upper bound of the estimate: no token is shorter than a byte. */
function promptTokensAtMost(body: ChatCompletionBody): number {
  let bound = REPLY_PRIMING_TOKENS;
  for (const message of body.messages) bound += TOKENS_PER_MESSAGE + Buffer.byteLength(messageText(message.content));
  return bound;
}

/** Measures the requests of one pass over a document; models are looked up once per pass. */
export class RequestBudget {
  private readonly counter = new PromptCounter();
  private readonly models = new Map<string, ModelContext>();

  constructor(
    private readonly modelStats: (model: string) => ModelStats,
    /** The setting; 0 when unset. */
    private readonly settingNumCtx: number,
  ) {}

  measure(body: ChatCompletionBody): Measurement {
    const context = this.context(body.model);
    const promptTokens = context.calibration.apply(this.counter.messages(body.messages));
    const outputTokens = outputTokensOf(body);
    const outputSource =
      body.max_completion_tokens != null ? 'max_completion_tokens' : body.max_tokens != null ? 'max_tokens' : 'default';
    return {
      model: body.model,
      promptTokens,
      outputTokens,
      outputSource,
      ...context,
      fits: promptTokens + outputTokens <= context.numCtx,
    };
  }

  /**
   * The measurement of a request that does not fit, else null. Counting tokens costs ten times
   * as much as validating a line, so a request that would fit even if every byte were a token
   * is not counted.
   */
  overflow(body: ChatCompletionBody): Measurement | null {
    const { calibration, numCtx } = this.context(body.model);
    if (calibration.apply(promptTokensAtMost(body)) + outputTokensOf(body) <= numCtx) return null;
    const measurement = this.measure(body);
    return measurement.fits ? null : measurement;
  }

  private context(model: string): ModelContext {
    let context = this.models.get(model);
    if (!context) {
      const stats = this.modelStats(model);
      context = { calibration: new Calibration(stats.calibration), ...contextLimit(stats, this.settingNumCtx) };
      this.models.set(model, context);
    }
    return context;
  }
}

function contextLimit(stats: ModelStats, setting: number): Pick<ModelContext, 'numCtx' | 'numCtxSource'> {
  if (setting > 0) return { numCtx: setting, numCtxSource: 'ollamaBatch.numCtx' };
  // Limits are learned per set of GPUs; not knowing which runs the batch, take the smallest.
  const learned = Object.values(stats.limits ?? {}).flatMap((limits) =>
    limits.numCtx === undefined ? [] : [limits.numCtx],
  );
  if (learned.length > 0) return { numCtx: Math.min(...learned), numCtxSource: 'learned limit' };
  return { numCtx: ASSUMED_NUM_CTX, numCtxSource: 'default' };
}

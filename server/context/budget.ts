// The context budget of each request: one num_ctx per batch (changing it per request reloads an
// Ollama model; num-ctx.ts chooses it), and every request measured against it before it is
// sent, trimmed by strategy if it is a conversation, refused if it still cannot fit.
import { messageText } from '../openai/chat.js';
import type { ChatCompletionBody, ChatMessage } from '../protocol/openai.js';
import type { Calibration } from './calibration.js';
import { DEFAULT_MAX_TOKENS } from './num-ctx.js';
import { REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, countTextTokens } from './tokens.js';
import { trimConversation, type TrimResult, type TrimStrategy } from './trim.js';

/** Contents this long repeat across a batch (the rubric): their counts are kept. */
const REPEATED_MIN_CHARS = 256;
const REPEATED_MAX_ENTRIES = 64;

/** Estimated tokens of messages as a chat template renders them (o200k, uncalibrated). */
export class PromptCounter {
  private readonly repeated = new Map<string, number>();

  message(message: ChatMessage): number {
    return TOKENS_PER_MESSAGE + this.text(messageText(message.content));
  }

  messages(messages: readonly ChatMessage[]): number {
    let count = REPLY_PRIMING_TOKENS;
    for (const message of messages) count += this.message(message);
    return count;
  }

  private text(text: string): number {
    if (text.length < REPEATED_MIN_CHARS) return countTextTokens(text);
    const known = this.repeated.get(text);
    if (known !== undefined) return known;
    const count = countTextTokens(text);
    if (this.repeated.size >= REPEATED_MAX_ENTRIES) this.repeated.delete(this.repeated.keys().next().value!);
    this.repeated.set(text, count);
    return count;
  }
}

export const outputTokensOf = (body: ChatCompletionBody): number =>
  body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS;

export type Fitted =
  | {
      fits: true;
      messages: ChatMessage[];
      estimated: number;
      promptTokens: number;
      maxTokens: number;
      trim: TrimResult | null;
    }
  | { fits: false; promptTokens: number; outputTokens: number; numCtx: number; message: string };

/**
 * Measures one request against num_ctx: the prompt in the model's tokens plus its output budget.
 * Over it, a conversation is trimmed by the strategy; a request that cannot fit is refused with
 * the numbers. The answer is also capped so that prompt + answer never pass num_ctx.
 */
export function fitRequest(
  body: ChatCompletionBody,
  context: {
    numCtx: number;
    strategy: TrimStrategy;
    counter: PromptCounter;
    calibration: Calibration;
    aggressiveFraction?: number;
    allowCut?: boolean;
  },
): Fitted {
  const { numCtx, counter, calibration } = context;
  const outputTokens = outputTokensOf(body);
  // The least room an answer needs: all of it when asked for less than a quarter of the context.
  const answerRoom = Math.min(outputTokens, Math.floor(numCtx / 4));
  const estimated = counter.messages(body.messages);
  const promptTokens = calibration.apply(estimated);
  let messages = body.messages;
  let trim: TrimResult | null = null;
  let fittedTokens = promptTokens;
  let fittedEstimate = estimated;
  if (promptTokens + answerRoom > numCtx) {
    // The trimmer counts in estimated tokens: scale the budget down by the calibration factor.
    const budget = Math.floor((numCtx - answerRoom) / calibration.factor);
    trim = trimConversation(body.messages, {
      budget,
      strategy: context.strategy,
      count: (message) => counter.message(message),
      overhead: REPLY_PRIMING_TOKENS,
      ...(context.aggressiveFraction !== undefined && { aggressiveFraction: context.aggressiveFraction }),
      ...(context.allowCut && { allowCut: true }),
    });
    fittedEstimate = trim.tokensAfter;
    fittedTokens = calibration.apply(fittedEstimate);
    if (!trim.fits) {
      return {
        fits: false,
        promptTokens: fittedTokens,
        outputTokens: answerRoom,
        numCtx,
        message: `the prompt needs about ${fittedTokens} tokens${trim.dropped > 0 ? ` even after trimming (${context.strategy})` : ''} and the answer ${answerRoom} more; the context window (num_ctx) is ${numCtx}`,
      };
    }
    messages = trim.messages;
  }
  return {
    fits: true,
    messages,
    estimated: fittedEstimate,
    promptTokens: fittedTokens,
    maxTokens: Math.min(outputTokens, numCtx - fittedTokens),
    trim,
  };
}

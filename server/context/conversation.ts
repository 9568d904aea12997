// Conversation mode, the earlier prototype's way, kept to be measured against the default: each
// worker appends its requests to one running conversation (the first request's system message,
// then every request's messages and the answers), trimmed every N requests or when it passes a
// share of the context. Candidates can sway each other's answers and the prompt grows: the
// independent mode sends each request alone with a byte-identical prefix instead.
import type { ChatMessage } from '../protocol/openai.js';
import { trimConversation, type TrimResult, type TrimStrategy } from './trim.js';

export { BATCH_MODES, type BatchMode } from '../protocol/methods.js';

/** A conversation is trimmed once it passes this share of its token budget. */
export const DEFAULT_TRIM_THRESHOLD = 0.875;

export interface ConversationOptions {
  /** Token budget of the prompt (num_ctx less the answer), in estimated tokens. */
  budget: number;
  strategy: TrimStrategy;
  count: (message: ChatMessage) => number;
  threshold?: number;
  /** Trim every this many requests as well (0: only at the threshold). */
  trimEvery?: number;
}

/** One worker's running conversation. */
export class Conversation {
  private history: ChatMessage[] = [];
  private requests = 0;

  /** The request's messages appended to the conversation so far (its system message only starts one). */
  messagesFor(request: readonly ChatMessage[]): ChatMessage[] {
    if (this.history.length === 0) return [...request];
    return [...this.history, ...request.filter((message) => message.role !== 'system')];
  }

  /**
   * Keeps what was sent and the answer; at the threshold (or every N requests) trims the
   * conversation to half the budget by the strategy, so that trimming is periodic, not constant.
   */
  answered(sent: ChatMessage[], answer: string, options: ConversationOptions): TrimResult | null {
    this.history = [...sent, { role: 'assistant', content: answer }];
    this.requests++;
    const tokens = this.history.reduce((sum, message) => sum + options.count(message), 0);
    const due = (options.trimEvery ?? 0) > 0 && this.requests % options.trimEvery! === 0;
    if (!due && tokens <= options.budget * (options.threshold ?? DEFAULT_TRIM_THRESHOLD)) return null;
    // The trimmer keeps the last user message: end on one, then put the answer back.
    const lastAnswer = this.history.pop()!;
    const trimmed = trimConversation(this.history, {
      budget: Math.floor(options.budget / 2),
      strategy: options.strategy,
      count: options.count,
    });
    this.history = [...trimmed.messages, lastAnswer];
    return trimmed;
  }
}

/** Conversations for the workers: one taken per request in flight, given back after it. */
export class ConversationPool {
  private readonly free: Conversation[] = [];

  take(): Conversation {
    return this.free.pop() ?? new Conversation();
  }

  give(conversation: Conversation): void {
    this.free.push(conversation);
  }
}

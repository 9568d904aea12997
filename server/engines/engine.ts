// The interface every inference engine implements. Engines know nothing of batches, the store
// or any transport: they take one chat request and answer it, or throw an EngineError.
import type { TokenLogprob } from '../openai/types.js';
import type { ChatMessage } from '../protocol/openai.js';

import type { EngineName } from '../protocol/methods.js';
export type { EngineName } from '../protocol/methods.js';

/** One chat request, already translated from the OpenAI body (see translate.ts). */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** Upper bound on generated tokens (max_tokens / max_completion_tokens). */
  maxTokens?: number;
  /** 'json' for any JSON object, or a JSON schema the answer must follow. */
  format?: 'json' | Record<string, unknown>;
  /** Context window for the whole batch; changing it between requests reloads an Ollama model. */
  numCtx?: number;
  /** Return each generated token's log probability, with this many alternatives (0 to 20). */
  logprobs?: boolean;
  topLogprobs?: number;
  /** Thinking (reasoning_effort): false turns it off; a level where the engine takes one. */
  think?: boolean | 'low' | 'medium' | 'high';
  /** OpenAI's penalties, from -2 to 2. */
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** Sampling options beyond OpenAI's (vLLM's top-level names): top_k, min_p, repetition_penalty. */
  topK?: number;
  minP?: number;
  repeatPenalty?: number;
  /** Token id → bias from -100 to 100 (engines that take it: openai). */
  logitBias?: Record<string, number>;
  /** Answers wanted (OpenAI's n): answered by chatChoices() in choices.ts, each engine gives one. */
  choices?: number;
}

/** One answer to a request. */
export interface ChatChoice {
  content: string;
  finishReason: 'stop' | 'length';
  /** The answer's tokens with their log probabilities, where asked for and given. */
  logprobs?: TokenLogprob[];
}

export interface ChatResult extends ChatChoice {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the engine's KV cache, where the engine reports it. */
  cachedTokens?: number;
  model: string;
  /** Tokens the model spent thinking (kept out of `content`), where it thought. */
  reasoningTokens?: number;
  /** Choices 1 to n-1 where the request asked for more than one; the counts above are summed over all. */
  moreChoices?: ChatChoice[];
}

export interface ModelFacts {
  contextLength?: number;
  /** KV cache bytes per token of context (f16), for what a num_ctx costs in VRAM per slot. */
  kvBytesPerToken?: number;
}

export interface Engine {
  readonly name: EngineName;
  chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult>;
  listModels(): Promise<string[]>;
  /** Parallel slots the engine serves, where it can be learned. */
  slots(): Promise<number | undefined>;
  /** What the engine tells of a model: the largest context it takes, its KV cache per token. */
  modelFacts(model: string): Promise<ModelFacts>;
  /**
   * The request's prompt in the model's own tokens (its chat template included), measured by
   * the engine itself; used once per model to calibrate our estimates.
   */
  countPromptTokens(request: ChatRequest, signal: AbortSignal): Promise<number>;
  /** True when the engine answers at all (used to pause and resume a batch). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * transient: worth retrying (connection refused/reset, 5xx, 503 queue full, timeout);
 * permanent: the request itself is wrong (unknown model, 4xx): an error line at once;
 * unreachable: the engine does not answer at all: the batch pauses until it does.
 */
export type EngineErrorKind = 'transient' | 'permanent' | 'unreachable';

export class EngineError extends Error {
  constructor(
    readonly kind: EngineErrorKind,
    /** OpenAI-style error code for the error line, e.g. 'model_not_found', 'server_error'. */
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

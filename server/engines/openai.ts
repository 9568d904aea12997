// Any OpenAI-compatible chat server (llama.cpp server, vLLM, LM Studio, SGLang, Ollama's /v1)
// through the official `openai` npm client: the way to scale past one machine. The client's own
// retries are off (maxRetries 0): the daemon retries transient errors itself.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { ChatRequest, ChatResult, Engine, ModelFacts } from './engine.js';
import { EngineError } from './engine.js';
import {
  answerText,
  fromHttpStatus,
  fromNetworkError,
  htmlPageError,
  invalidEngineAnswer,
  isHtml,
  isJsonObject,
} from './errors.js';
import { nodeHttpFetch } from './http-fetch.js';
import { reasoningShare, tokenLogprobs } from './reasoning-and-logprobs.js';
import { messageText } from '../openai/chat.js';
import { textOf } from '../common/text-of.js';

const DEFAULT_REQUEST_TIMEOUT_MS = 10 * 60_000;
const PROBE_TIMEOUT_MS = 5_000;

export interface OpenAIEngineOptions {
  /** The API base, e.g. `http://127.0.0.1:8080/v1` (llama.cpp server) or `http://127.0.0.1:11434/v1`. */
  baseURL: string;
  /** Sent as a bearer token; local servers mostly ignore it ('none' when not given). */
  apiKey?: string | undefined;
  /** Per-request limit, on top of the caller's signal (default 10 minutes). */
  requestTimeoutMs?: number;
  /** The fetch under the openai client (default nodeHttpFetch, see ollama.ts; globalThis.fetch for undici). */
  fetch?: typeof fetch;
}

/** An error from the openai client, as an EngineError. */
export function openAIError(error: unknown, signal: AbortSignal): EngineError {
  if (error instanceof EngineError) return error;
  if (error instanceof APIUserAbortError) return fromNetworkError(error, signal);
  if (error instanceof APIConnectionTimeoutError) {
    if (signal.aborted) return fromNetworkError(error, signal);
    return new EngineError('transient', 'timeout', 'the engine did not answer in time');
  }
  if (error instanceof APIConnectionError) {
    return fromNetworkError(error.cause ?? error, signal);
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    // The client's message is the status and the page's text.
    if (isHtml((error.headers as Headers | undefined)?.get('content-type')))
      return htmlPageError(error.status, error.message.replace(/^\d{3} /, ''));
    const body = error.error as { message?: unknown } | undefined;
    const message = typeof body?.message === 'string' ? body.message : error.message;
    return fromHttpStatus(error.status, message, error.code);
  }
  return fromNetworkError(error, signal);
}

export class OpenAIEngine implements Engine {
  readonly name = 'openai' as const;
  readonly baseURL: string;
  private readonly client: OpenAI;
  private readonly apiKey: string;
  private readonly fetch: typeof fetch;

  constructor(options: OpenAIEngineOptions) {
    this.baseURL = options.baseURL.replace(/\/+$/, '');
    this.apiKey = options.apiKey ?? 'none';
    this.client = new OpenAI({
      baseURL: this.baseURL,
      apiKey: this.apiKey,
      maxRetries: 0,
      timeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      fetch: options.fetch ?? nodeHttpFetch,
    });
    this.fetch = options.fetch ?? nodeHttpFetch;
  }

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    let answer;
    try {
      answer = await this.client.chat.completions.create(toOpenAIRequest(request), { signal }).withResponse();
    } catch (error) {
      throw openAIError(error, signal);
    }
    // A 2xx that is not JSON comes back from the client as its text.
    if (isHtml(answer.response.headers.get('content-type')))
      throw htmlPageError(answer.response.status, textOf(answer.data));
    return fromChatCompletion(answer.data, request.model);
  }

  /** OpenAI-compatible servers do not say (vLLM's max_model_len is not in /v1/models). */
  async modelFacts(): Promise<ModelFacts> {
    return {};
  }

  /** A one-token answer: the server's usage counts the prompt (servers refuse, not cut, one too long). */
  async countPromptTokens(request: ChatRequest, signal: AbortSignal): Promise<number> {
    return (await this.chat({ ...request, maxTokens: 1 }, signal)).promptTokens;
  }

  async listModels(): Promise<string[]> {
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS * 6);
    const names: string[] = [];
    try {
      for await (const model of this.client.models.list({ signal })) names.push(model.id);
    } catch (error) {
      throw openAIError(error, signal);
    }
    return names;
  }

  /**
   * The requests the server runs at once, where it tells them: llama.cpp server's `total_slots` in
   * GET /props (at the server root, beside /v1); vLLM's `max_num_seqs` (times its data-parallel
   * replicas behind this one API server) in GET /server_info?config_format=json, which vLLM
   * serves only when started with VLLM_SERVER_DEV_MODE=1 (its /metrics do not carry it). Other
   * servers do not say: undefined.
   */
  async slots(): Promise<number | undefined> {
    const props = await this.probe('/props');
    if (isJsonObject(props) && isPositiveInteger(props.total_slots)) return props.total_slots;
    return vllmMaxRunning(await this.probe('/server_info?config_format=json'));
  }

  /** GET `path` at the server root (beside /v1) as JSON; undefined when it fails or is not JSON. */
  private async probe(path: string): Promise<unknown> {
    const root = this.baseURL.replace(/\/v1$/, '');
    try {
      const response = await this.fetch(`${root}${path}`, {
        headers: { Authorization: `Bearer ${this.apiKey}` },
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return undefined;
      }
      return (await response.json()) as unknown;
    } catch {
      return undefined;
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.client.models.list({ signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // The client holds nothing that needs closing.
  }
}

const isPositiveInteger = (value: unknown): value is number => Number.isInteger(value) && (value as number) > 0;

/**
 * vLLM's /server_info (dev mode): `vllm_config.scheduler_config.max_num_seqs` sequences per
 * engine, times the data-parallel engines this API server balances over: all of them
 * (`data_parallel_size`), those of its node in hybrid balancing (`data_parallel_size_local`), or
 * its own alone where the balancing is external (each replica has its own server).
 */
export function vllmMaxRunning(info: unknown): number | undefined {
  if (!isJsonObject(info) || !isJsonObject(info.vllm_config)) return undefined;
  const { scheduler_config: scheduler, parallel_config: parallel } = info.vllm_config;
  if (!isJsonObject(scheduler) || !isPositiveInteger(scheduler.max_num_seqs)) return undefined;
  const replicasField = !isJsonObject(parallel)
    ? undefined
    : parallel.data_parallel_external_lb === true
      ? undefined
      : parallel.data_parallel_hybrid_lb === true
        ? parallel.data_parallel_size_local
        : parallel.data_parallel_size;
  return scheduler.max_num_seqs * (isPositiveInteger(replicasField) ? replicasField : 1);
}

/** A chat.completions answer as an engine result; an EngineError when its first choice has no message text. */
function fromChatCompletion(completion: ChatCompletion, model: string): ChatResult {
  if (!isJsonObject(completion)) throw invalidEngineAnswer('not a JSON object');
  const choice = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
  if (!isJsonObject(choice)) throw invalidEngineAnswer('no choices');
  if (!isJsonObject(choice.message)) throw invalidEngineAnswer('choices[0] has no message');
  const result: ChatResult = {
    content: answerText(choice.message.content, 'choices[0].message.content'),
    finishReason: choice.finish_reason === 'length' ? 'length' : 'stop',
    promptTokens: completion.usage?.prompt_tokens ?? 0,
    completionTokens: completion.usage?.completion_tokens ?? 0,
    model: completion.model || model,
  };
  const cached = completion.usage?.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') result.cachedTokens = cached;
  const logprobs = tokenLogprobs(choice.logprobs?.content);
  if (logprobs) result.logprobs = logprobs;
  const reasoning = completion.usage?.completion_tokens_details?.reasoning_tokens;
  // Servers that think apart (vLLM, llama.cpp server: reasoning_content; Ollama's /v1: reasoning) may not count it.
  const message = choice.message as { reasoning_content?: unknown; reasoning?: unknown };
  const thinking = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === 'number') result.reasoningTokens = reasoning;
  else if (typeof thinking === 'string' && thinking !== '')
    result.reasoningTokens = reasoningShare(result.completionTokens, thinking, result.content);
  return result;
}

/** An engine request as an OpenAI chat.completions body. num_ctx has no OpenAI equivalent. */
export function toOpenAIRequest(request: ChatRequest): ChatCompletionCreateParamsNonStreaming {
  const body: ChatCompletionCreateParamsNonStreaming = {
    model: request.model,
    messages: request.messages.map(
      (message) => ({ role: message.role, content: messageText(message.content) }) as ChatCompletionMessageParam,
    ),
  };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.stop !== undefined) body.stop = request.stop;
  // max_tokens, not max_completion_tokens: every local server knows the older name.
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (request.frequencyPenalty !== undefined) body.frequency_penalty = request.frequencyPenalty;
  if (request.presencePenalty !== undefined) body.presence_penalty = request.presencePenalty;
  if (request.logitBias !== undefined) body.logit_bias = request.logitBias;
  if (request.logprobs) {
    body.logprobs = true;
    if (request.topLogprobs !== undefined) body.top_logprobs = request.topLogprobs;
  }
  // false (reasoning_effort none or minimal) is sent as none; true (thinking, no level) as OpenAI's default, medium.
  if (request.think !== undefined)
    body.reasoning_effort = request.think === false ? 'none' : request.think === true ? 'medium' : request.think;
  // Sampling options beyond OpenAI's, under vLLM's names (SGLang and llama.cpp server read top_k and min_p too).
  const extra = body as ChatCompletionCreateParamsNonStreaming & Record<string, unknown>;
  if (request.topK !== undefined) extra.top_k = request.topK;
  if (request.minP !== undefined) extra.min_p = request.minP;
  if (request.repeatPenalty !== undefined) extra.repetition_penalty = request.repeatPenalty;
  if (request.format === 'json') body.response_format = { type: 'json_object' };
  else if (request.format) {
    body.response_format = {
      type: 'json_schema',
      json_schema: { name: 'answer', schema: request.format, strict: true },
    };
  }
  return body;
}

// The default engine: Ollama's native API through the official `ollama` npm client. The native
// /api/chat (not Ollama's /v1) is used because only it can set num_ctx, keep_alive, format (a
// JSON schema) and the seed, and because it reports prompt_eval_cached_count.
import { Ollama } from 'ollama';
import type { ChatRequest as OllamaChatRequest, ChatResponse, Message, Options } from 'ollama';
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
import { MIN_NUM_CTX } from '../context/num-ctx.js';
import { ollamaBaseUrl } from '../config/defaults.js';

const DEFAULT_REQUEST_TIMEOUT_MS = 10 * 60_000;
const PING_TIMEOUT_MS = 5_000;

export interface OllamaEngineOptions {
  /** Base URL, or any OLLAMA_HOST form (`0.0.0.0:11434`, `host`, `:11434`); default OLLAMA_HOST, else 127.0.0.1:11434. */
  url?: string;
  /** Limit for calls without a caller's signal: list, version, ps (default 10 minutes). A chat is bounded by its signal. */
  requestTimeoutMs?: number;
  /** keep_alive sent with every chat (default -1: keep the model loaded while a batch runs). */
  keepAlive?: string | number;
  /** The fetch under the ollama client (default nodeHttpFetch; pass globalThis.fetch for undici). */
  fetch?: typeof fetch;
  /** OLLAMA_NUM_PARALLEL as the server runs with it, where known from elsewhere: its API does not tell (see slots()). */
  parallel?: number;
}

/** A model in memory, from GET /api/ps. `sizeVram < size` means part of it spilled to the CPU. */
export interface OllamaLoadedModel {
  name: string;
  model: string;
  /** Bytes in memory: weights plus KV cache (num_ctx × slots). */
  size: number;
  /** Of those, bytes in GPU memory. */
  sizeVram: number;
  /** num_ctx it was loaded with (Ollama >= 0.6); undefined where not reported. */
  contextLength: number | undefined;
  expiresAt: string;
}

/** The shape of an error the ollama client throws for a non-2xx answer (ResponseError, not exported). */
function isResponseError(error: unknown): error is Error & { status_code: number; error: string } {
  return error instanceof Error && typeof (error as { status_code?: unknown }).status_code === 'number';
}

/** An error from the ollama client (or the fetch under it), as an EngineError. */
export function ollamaError(error: unknown, signal: AbortSignal): EngineError {
  if (error instanceof EngineError) return error;
  if (isResponseError(error)) {
    const message = typeof error.error === 'string' && error.error ? error.error : error.message;
    return fromHttpStatus(error.status_code, message);
  }
  return fromNetworkError(error, signal);
}

export class OllamaEngine implements Engine {
  readonly name = 'ollama' as const;
  readonly url: string;
  private readonly fetch: typeof fetch;
  private readonly requestTimeoutMs: number;
  private readonly keepAlive: string | number;
  private readonly parallel: number | undefined;

  constructor(options: OllamaEngineOptions = {}) {
    this.parallel = options.parallel;
    this.url = ollamaBaseUrl(options.url);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.keepAlive = options.keepAlive ?? -1;
    this.fetch = options.fetch ?? nodeHttpFetch;
  }

  /**
   * A client whose every request carries `signal`: ollama-js takes no AbortSignal for
   * non-streaming calls, so the signal goes in through its fetch. An HTML page is refused there,
   * where its status and text are still known (ollama-js would fail on it as on a broken socket).
   */
  private clientWith(signal: AbortSignal): Ollama {
    return new Ollama({
      host: this.url,
      fetch: async (input, init) => {
        const response = await this.fetch(input, { ...init, signal });
        if (isHtml(response.headers.get('content-type'))) throw htmlPageError(response.status, await response.text());
        return response;
      },
    });
  }

  /** Runs `call` with a client limited to `timeoutMs`, for calls that have no caller's signal. */
  private async timed<T>(timeoutMs: number, call: (client: Ollama) => Promise<T>): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await call(this.clientWith(signal));
    } catch (error) {
      throw ollamaError(error, signal);
    }
  }

  /** The caller's signal bounds the call (the batch runner times every try). */
  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    try {
      if (signal.aborted) throw signal.reason;
      const response = await this.clientWith(signal).chat({
        ...toOllamaRequest(request, this.keepAlive),
        stream: false,
      });
      return fromOllamaResponse(response, request.model);
    } catch (error) {
      throw ollamaError(error, signal);
    }
  }

  /**
   * The names Ollama lists (`gemma3:12b`, `tiny:latest`), plus the bare name of every `:latest`
   * tag, since Ollama accepts `tiny` for `tiny:latest`.
   */
  async listModels(): Promise<string[]> {
    const response = await this.timed(this.requestTimeoutMs, (client) => client.list());
    const names = new Set<string>();
    for (const model of response.models) {
      names.add(model.name);
      if (model.name.endsWith(':latest')) names.add(model.name.slice(0, -':latest'.length));
    }
    return [...names];
  }

  /**
   * OLLAMA_NUM_PARALLEL where the caller knows it (the factory reads it from the daemon's own
   * environment for an Ollama on this machine). Ollama's API does not tell it: neither /api/ps,
   * /api/show nor /api/version report it, and its default depends on the version and on free
   * memory. Otherwise unknown, and the caller picks a concurrency.
   */
  async slots(): Promise<number | undefined> {
    return this.parallel;
  }

  /**
   * From /api/show's model_info: `<architecture>.context_length`, and the KV cache per token
   * (K and V, every layer, the KV heads' share of the embedding, 2 bytes each as Ollama's f16).
   */
  async modelFacts(model: string): Promise<ModelFacts> {
    const shown = await this.timed(this.requestTimeoutMs, (client) => client.show({ model }));
    // Typed as a Map by ollama-js, but JSON gives a plain object.
    const info =
      shown.model_info instanceof Map
        ? Object.fromEntries(shown.model_info as Map<string, unknown>)
        : ((shown.model_info ?? {}) as Record<string, unknown>);
    const architecture = info['general.architecture'];
    const number = (key: string): number | undefined => {
      const value = typeof architecture === 'string' ? info[`${architecture}.${key}`] : undefined;
      return typeof value === 'number' && value > 0 ? value : undefined;
    };
    const facts: ModelFacts = {};
    const contextLength = number('context_length');
    if (contextLength) facts.contextLength = contextLength;
    const [layers, embedding, heads] = [
      number('block_count'),
      number('embedding_length'),
      number('attention.head_count'),
    ];
    if (layers && embedding && heads)
      facts.kvBytesPerToken = 2 * layers * embedding * ((number('attention.head_count_kv') ?? heads) / heads) * 2;
    return facts;
  }

  /**
   * A one-token answer at a num_ctx that holds the prompt: Ollama cuts a prompt longer than
   * num_ctx and counts what is left, so a count that fills the window is tried again, doubled.
   */
  async countPromptTokens(request: ChatRequest, signal: AbortSignal): Promise<number> {
    let numCtx = request.numCtx ?? MIN_NUM_CTX;
    for (;;) {
      const { promptTokens } = await this.chat({ ...request, maxTokens: 1, numCtx }, signal);
      if (promptTokens < numCtx - 1) return promptTokens;
      numCtx *= 2;
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.version();
      return true;
    } catch {
      return false;
    }
  }

  /** GET /api/version. */
  async version(): Promise<string> {
    const response = await this.timed(Math.min(PING_TIMEOUT_MS, this.requestTimeoutMs), (client) => client.version());
    return response.version;
  }

  /** GET /api/ps: the models in memory, with their VRAM share and context length. */
  async ps(): Promise<OllamaLoadedModel[]> {
    const response = await this.timed(Math.min(PING_TIMEOUT_MS, this.requestTimeoutMs), (client) => client.ps());
    return response.models.map((model) => {
      const contextLength = (model as { context_length?: unknown }).context_length;
      return {
        name: model.name,
        model: model.model,
        size: model.size,
        sizeVram: model.size_vram,
        contextLength: typeof contextLength === 'number' ? contextLength : undefined,
        expiresAt: String(model.expires_at),
      };
    });
  }

  async close(): Promise<void> {
    // Nothing held: fetch's keep-alive connections close on their own. The model stays loaded
    // for keep_alive; unloading it is the user's call, not the daemon's.
  }
}

/** An engine request as an Ollama /api/chat body (without `stream`). */
export function toOllamaRequest(request: ChatRequest, keepAlive: string | number): OllamaChatRequest {
  const messages: Message[] = request.messages.map((message) => ({
    // Ollama's templates know system/user/assistant/tool; OpenAI's `developer` is a system turn.
    role: message.role === 'developer' ? 'system' : message.role,
    content: messageText(message.content),
  }));
  const options: Partial<Options> = {};
  if (request.temperature !== undefined) options.temperature = request.temperature;
  if (request.topP !== undefined) options.top_p = request.topP;
  if (request.seed !== undefined) options.seed = request.seed;
  if (request.stop !== undefined) options.stop = request.stop;
  if (request.maxTokens !== undefined) options.num_predict = request.maxTokens;
  if (request.numCtx !== undefined) options.num_ctx = request.numCtx;
  if (request.frequencyPenalty !== undefined) options.frequency_penalty = request.frequencyPenalty;
  if (request.presencePenalty !== undefined) options.presence_penalty = request.presencePenalty;
  if (request.topK !== undefined) options.top_k = request.topK;
  if (request.minP !== undefined) options.min_p = request.minP;
  if (request.repeatPenalty !== undefined) options.repeat_penalty = request.repeatPenalty;
  const body: OllamaChatRequest = { model: request.model, messages, options, keep_alive: keepAlive };
  if (request.format !== undefined) body.format = request.format;
  // Left out unless asked: a thinking model then thinks, as Ollama decides.
  if (request.think !== undefined) body.think = request.think;
  if (request.logprobs) {
    body.logprobs = true;
    if (request.topLogprobs !== undefined) body.top_logprobs = request.topLogprobs;
  }
  return body;
}

/** An Ollama /api/chat answer as an engine result; an EngineError when it has no message text. */
export function fromOllamaResponse(response: ChatResponse, model: string): ChatResult {
  if (!isJsonObject(response)) throw invalidEngineAnswer('not a JSON object');
  if (!isJsonObject(response.message)) throw invalidEngineAnswer('no message');
  const content = answerText(response.message.content, 'message.content');
  const raw = response as ChatResponse & { prompt_eval_cached_count?: unknown };
  const result: ChatResult = {
    content,
    finishReason: response.done_reason === 'length' ? 'length' : 'stop',
    // Omitted by older Ollama when the whole prompt came from the cache.
    promptTokens: typeof response.prompt_eval_count === 'number' ? response.prompt_eval_count : 0,
    completionTokens: typeof response.eval_count === 'number' ? response.eval_count : 0,
    model: response.model || model,
  };
  if (typeof raw.prompt_eval_cached_count === 'number') result.cachedTokens = raw.prompt_eval_cached_count;
  const logprobs = tokenLogprobs(response.logprobs);
  if (logprobs) result.logprobs = logprobs;
  // The thinking comes apart from the content, but eval_count counts both.
  const thinking = response.message.thinking;
  if (typeof thinking === 'string' && thinking !== '')
    result.reasoningTokens = reasoningShare(result.completionTokens, thinking, content);
  return result;
}

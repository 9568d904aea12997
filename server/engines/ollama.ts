// The default engine: Ollama's native API through the official `ollama` npm client. The native
// /api/chat (not Ollama's /v1) is used because only it can set num_ctx, keep_alive, format (a
// JSON schema) and the seed, and because it reports prompt_eval_cached_count.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Ollama } from 'ollama';
import type { ChatRequest as OllamaChatRequest, ChatResponse, Message, Options } from 'ollama';
import type { ChatRequest, ChatResult, Engine } from './engine.js';
import { EngineError } from './engine.js';
import { fromHttpStatus, fromNetworkError } from './errors.js';
import { nodeHttpFetch } from './http-fetch.js';
import { messageText } from './translate.js';

export const DEFAULT_OLLAMA_URL = 'http://127.0.0.1:11434';
const DEFAULT_REQUEST_TIMEOUT_MS = 10 * 60_000;
const PING_TIMEOUT_MS = 5_000;

export interface OllamaEngineOptions {
  /** Base URL, or any OLLAMA_HOST form (`0.0.0.0:11434`, `host`, `:11434`); default OLLAMA_HOST, else 127.0.0.1:11434. */
  url?: string;
  /** Per-request limit, on top of the caller's signal (default 10 minutes). */
  requestTimeoutMs?: number;
  /** keep_alive sent with every chat (default -1: keep the model loaded while a batch runs). */
  keepAlive?: string | number;
  /** The fetch under the ollama client (default nodeHttpFetch; pass globalThis.fetch for undici). */
  fetch?: typeof fetch;
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

/**
 * The base URL for an OLLAMA_HOST value, read the way Ollama's own envconfig reads it: no scheme
 * means http and port 11434; `http://host` means port 80. The unspecified addresses a server
 * binds to (`0.0.0.0`, `::`) are reached through loopback.
 */
export function ollamaBaseUrl(host: string | undefined = process.env.OLLAMA_HOST): string {
  let text = (host ?? '').trim();
  if (!text) return DEFAULT_OLLAMA_URL;
  let defaultPort = '11434';
  const schemeEnd = text.indexOf('://');
  if (schemeEnd < 0) text = `http://${text.startsWith(':') ? `127.0.0.1${text}` : text}`;
  else if (text.startsWith('https://')) defaultPort = '443';
  else defaultPort = '80';
  const url = new URL(text);
  if (!url.port) url.port = defaultPort;
  if (url.hostname === '0.0.0.0' || url.hostname === '') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  return url.toString().replace(/\/+$/, '');
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
  private readonly client: Ollama;
  private readonly requestTimeoutMs: number;
  private readonly keepAlive: string | number;
  /** The abort signal of the call in progress, for the fetch under the ollama client. */
  private readonly currentSignal = new AsyncLocalStorage<AbortSignal>();

  constructor(options: OllamaEngineOptions = {}) {
    this.url = ollamaBaseUrl(options.url);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.keepAlive = options.keepAlive ?? -1;
    // ollama-js passes no AbortSignal for non-streaming calls: add the current call's own.
    const baseFetch = options.fetch ?? nodeHttpFetch;
    const signalled: typeof fetch = (input, init) => {
      const signal = this.currentSignal.getStore();
      if (!signal) return baseFetch(input, init);
      return baseFetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
    };
    this.client = new Ollama({ host: this.url, fetch: signalled });
  }

  /** Runs `call` with `signal` (plus the timeout) applied to every request it makes. */
  private async withSignal<T>(signal: AbortSignal | undefined, timeoutMs: number, call: () => Promise<T>): Promise<T> {
    // One controller and one timer per call: cheaper than AbortSignal.any + AbortSignal.timeout,
    // which cost a third of the throughput against a fast server.
    const controller = new AbortController();
    const combined = controller.signal;
    const onAbort = () => controller.abort(signal?.reason);
    const timer = setTimeout(() => controller.abort(new DOMException('The operation timed out.', 'TimeoutError')), timeoutMs);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (combined.aborted) throw combined.reason;
      return await this.currentSignal.run(combined, call);
    } catch (error) {
      throw ollamaError(error, combined);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    const response = await this.withSignal(signal, this.requestTimeoutMs, () =>
      this.client.chat({ ...toOllamaRequest(request, this.keepAlive), stream: false }),
    );
    return fromOllamaResponse(response, request.model);
  }

  /**
   * The names Ollama lists (`gemma3:12b`, `tiny:latest`), plus the bare name of every `:latest`
   * tag, since Ollama accepts `tiny` for `tiny:latest`.
   */
  async listModels(): Promise<string[]> {
    const response = await this.withSignal(undefined, this.requestTimeoutMs, () => this.client.list());
    const names = new Set<string>();
    for (const model of response.models) {
      names.add(model.name);
      if (model.name.endsWith(':latest')) names.add(model.name.slice(0, -':latest'.length));
    }
    return [...names];
  }

  /**
   * Unknown: Ollama does not expose OLLAMA_NUM_PARALLEL (neither /api/ps nor /api/show report
   * it, and since 0.2 its default depends on free memory), so the caller picks a concurrency.
   */
  async slots(): Promise<number | undefined> {
    return undefined;
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
    const response = await this.withSignal(undefined, Math.min(PING_TIMEOUT_MS, this.requestTimeoutMs), () => this.client.version());
    return response.version;
  }

  /** GET /api/ps: the models in memory, with their VRAM share and context length. */
  async ps(): Promise<OllamaLoadedModel[]> {
    const response = await this.withSignal(undefined, Math.min(PING_TIMEOUT_MS, this.requestTimeoutMs), () => this.client.ps());
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
  const body: OllamaChatRequest = { model: request.model, messages, options, keep_alive: keepAlive };
  if (request.format !== undefined) body.format = request.format;
  return body;
}

/** An Ollama /api/chat answer as an engine result. */
export function fromOllamaResponse(response: ChatResponse, model: string): ChatResult {
  const raw = response as ChatResponse & { prompt_eval_cached_count?: unknown };
  const result: ChatResult = {
    content: response.message?.content ?? '',
    finishReason: response.done_reason === 'length' ? 'length' : 'stop',
    // Omitted by older Ollama when the whole prompt came from the cache.
    promptTokens: typeof response.prompt_eval_count === 'number' ? response.prompt_eval_count : 0,
    completionTokens: typeof response.eval_count === 'number' ? response.eval_count : 0,
    model: response.model || model,
  };
  if (typeof raw.prompt_eval_cached_count === 'number') result.cachedTokens = raw.prompt_eval_cached_count;
  return result;
}

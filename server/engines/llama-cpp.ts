// The in-process engine: node-llama-cpp on one GGUF file, no server. One context holds `slots`
// sequences (each with its own KV cache); a request takes a free sequence (FIFO when all are
// busy) and keeps it, so a prompt that starts byte-identical to the previous one on that
// sequence (the rubric as system prompt) is served from the KV cache.
//
// node-llama-cpp is ESM and heavy: it is imported only inside load(), and only type imports
// appear at the top (the daemon bundle keeps it external; the other engines never load it).
import { getMaxListeners, setMaxListeners } from 'node:events';
import os from 'node:os';
import { basename, extname } from 'node:path';
import type {
  ChatHistoryItem,
  Llama,
  LlamaChat,
  LlamaChatResponseSegment,
  LlamaContext,
  LlamaContextSequence,
  LlamaGrammar,
  LlamaModel,
  LLamaContextualRepeatPenalty,
  Token,
} from 'node-llama-cpp';
import type { ChatMessage } from '../protocol/openai.js';
import { EngineError, type ChatRequest, type ChatResult, type Engine, type ModelFacts } from './engine.js';
import { messageText } from '../openai/chat.js';
import { EMBEDDED_ENGINE_NUM_CTX } from '../context/num-ctx.js';
import { importNodeLlamaCpp } from './node-llama-cpp-module.js';

export interface LlamaCppEngineOptions {
  /** The GGUF file. The model is served under its base name without extension. */
  modelPath: string;
  /** Parallel sequences in the one context (default 1). */
  slots?: number;
  /** CPU threads for evaluation (default: one per slot, at most os.availableParallelism() - 1; see defaultThreads). */
  threads?: number;
  /** Tokens per sequence, fixed at load (default 4096, or the model's train context if smaller). */
  contextSize?: number;
}

// Sampling defaults where the request leaves them out: Ollama's, so the embedded engine and the
// default engine answer alike for the same GGUF. No repeat penalty unless asked: OpenAI's default.
const DEFAULT_TEMPERATURE = 0.8;
const DEFAULT_TOP_K = 40;
const DEFAULT_TOP_P = 0.9;

interface Slot {
  index: number;
  sequence: LlamaContextSequence;
  chat: LlamaChat;
}

interface Waiter {
  /** Hands over a slot that freed up. */
  grant: (slot: Slot) => void;
  reject: (error: EngineError) => void;
}

/**
 * One thread per sequence, leaving one core to Node's own thread. Always explicit: llama.cpp's
 * threads spin-wait on each other, and any oversubscription is ruinous. Measured on 2 cores with
 * the tiny model: 1 thread generated ~1,300 tok/s, 2 threads 24-71 tok/s (2 slots: 775 vs 8-18);
 * node-llama-cpp's own default (4) made a 40-token answer take 52 s instead of 64 ms. (Measured
 * while other processes loaded the machine; on an idle machine a 1B model gains from 2 threads.)
 */
export function defaultThreads(slots: number): number {
  return Math.max(1, Math.min(slots, os.availableParallelism() - 1));
}

function abortedError(signal: AbortSignal): EngineError {
  const reason = signal.reason as unknown;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  return timedOut
    ? new EngineError('transient', 'timeout', 'the engine did not answer in time')
    : new EngineError('transient', 'aborted', 'the request was aborted');
}

/** OpenAI's penalties and repetition_penalty as node-llama-cpp's repeat penalty; off when none is asked for. */
function repeatPenaltyOf(request: ChatRequest): LLamaContextualRepeatPenalty | false {
  const { frequencyPenalty, presencePenalty, repeatPenalty } = request;
  if (frequencyPenalty === undefined && presencePenalty === undefined && repeatPenalty === undefined) return false;
  return {
    penalty: repeatPenalty ?? 1,
    ...(frequencyPenalty !== undefined ? { frequencyPenalty } : {}),
    ...(presencePenalty !== undefined ? { presencePenalty } : {}),
  };
}

/** OpenAI messages → node-llama-cpp chat history, ending with the model turn to generate. */
function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  for (const message of messages) {
    const text = messageText(message.content);
    switch (message.role) {
      case 'system':
      case 'developer':
        history.push({ type: 'system', text });
        break;
      case 'assistant':
        history.push({ type: 'model', response: [text] });
        break;
      case 'user':
      case 'tool':
        history.push({ type: 'user', text });
        break;
    }
  }
  // A new assistant turn, as the chat template's add_generation_prompt would open it.
  history.push({ type: 'model', response: [] });
  return history;
}

export class LlamaCppEngine implements Engine {
  readonly name = 'llama-cpp' as const;
  /** The name requests must use: the GGUF file's base name without extension. */
  readonly modelName: string;
  /** Tokens per sequence, as allocated (llama.cpp may round the request up). */
  readonly contextSize: number;
  /** CPU threads used for evaluation. */
  readonly threads: number;

  private readonly free: Slot[];
  private readonly waiters: Waiter[] = [];
  private readonly schemaGrammars = new Map<string, Promise<LlamaGrammar>>();
  private jsonGrammar: Promise<LlamaGrammar> | undefined;
  private closed = false;
  private active = 0;

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly allSlots: readonly Slot[],
    modelPath: string,
    threads: number,
  ) {
    this.modelName = basename(modelPath, extname(modelPath));
    this.contextSize = context.contextSize;
    this.threads = threads;
    this.free = [...allSlots];
  }

  static async load(options: LlamaCppEngineOptions): Promise<LlamaCppEngine> {
    const slots = Math.max(1, Math.floor(options.slots ?? 1));
    const threads = Math.max(1, Math.floor(options.threads ?? defaultThreads(slots)));
    const { getLlama, LlamaChat, LlamaLogLevel } = await importNodeLlamaCpp();
    // build: 'never': a missing prebuilt binary must fail fast, not start a many-minute build.
    const llama = await getLlama({ build: 'never', gpu: false, maxThreads: threads, logLevel: LlamaLogLevel.error });
    let model: LlamaModel | undefined;
    let context: LlamaContext | undefined;
    try {
      model = await llama.loadModel({ modelPath: options.modelPath });
      const trainContextSize = model.trainContextSize;
      const contextSize = Math.max(
        64,
        Math.floor(
          options.contextSize ??
            Math.min(EMBEDDED_ENGINE_NUM_CTX, trainContextSize > 0 ? trainContextSize : EMBEDDED_ENGINE_NUM_CTX),
        ),
      );
      context = await model.createContext({ contextSize, sequences: slots, threads });
      const allSlots: Slot[] = [];
      for (let index = 0; index < slots; index++) {
        // A shift would silently drop the front of the prompt: refuse instead (chat() checks
        // sizes first, so this is only a guard).
        const sequence = context.getSequence({
          contextShift: {
            strategy: () => {
              throw new EngineError('permanent', 'context_length_exceeded', 'the context window is full');
            },
          },
        });
        allSlots.push({ index, sequence, chat: new LlamaChat({ contextSequence: sequence }) });
      }
      return new LlamaCppEngine(llama, model, context, allSlots, options.modelPath, threads);
    } catch (error) {
      await context?.dispose().catch(() => undefined);
      await model?.dispose().catch(() => undefined);
      await llama.dispose().catch(() => undefined);
      throw error;
    }
  }

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    if (this.closed) throw new EngineError('unreachable', 'engine_unreachable', 'the llama-cpp engine is closed');
    if (request.model !== this.modelName) {
      throw new EngineError(
        'permanent',
        'model_not_found',
        `model "${request.model}" not found; this engine serves "${this.modelName}"`,
        404,
      );
    }
    if (signal.aborted) throw abortedError(signal);
    if (request.maxTokens !== undefined && (!Number.isInteger(request.maxTokens) || request.maxTokens < 1)) {
      throw new EngineError(
        'permanent',
        'invalid_request',
        `max_tokens must be a positive integer, got ${request.maxTokens}`,
        400,
      );
    }

    const history = toHistory(request.messages);
    const tokens = this.tokenize(history);
    const promptTokens = tokens.length;
    // One cell stays free: LlamaChat shifts the context when the next token index reaches
    // contextSize - 1, and a shift is what must never happen.
    const window = this.contextSize - 1;
    if (promptTokens + (request.maxTokens ?? 1) > window) {
      const wanted =
        request.maxTokens === undefined
          ? `${promptTokens} prompt tokens`
          : `${promptTokens} prompt tokens + ${request.maxTokens} max tokens`;
      throw new EngineError(
        'permanent',
        'context_length_exceeded',
        `${wanted} do not fit the context window of ${window} tokens (context size ${this.contextSize}, fixed when the model was loaded)`,
        400,
      );
    }
    const maxTokens = request.maxTokens ?? window - promptTokens;
    const grammar = request.format === undefined ? undefined : await this.grammarFor(request.format);
    const stop = (request.stop ?? []).filter((s) => s.length > 0);

    // One listener on the caller's signal per request (a whole batch may share one signal);
    // node-llama-cpp's own listeners go on this request's signal.
    const controller = new AbortController();
    const forward = (): void => controller.abort(signal.reason);
    this.active++;
    if (getMaxListeners(signal) < this.active + 10) setMaxListeners(this.active + 10, signal);
    signal.addEventListener('abort', forward, { once: true });
    try {
      return await this.generate(history, tokens, maxTokens, grammar, stop, request, controller.signal);
    } finally {
      signal.removeEventListener('abort', forward);
      this.active--;
    }
  }

  private async generate(
    history: ChatHistoryItem[],
    tokens: Token[],
    maxTokens: number,
    grammar: LlamaGrammar | undefined,
    stop: string[],
    request: ChatRequest,
    signal: AbortSignal,
  ): Promise<ChatResult> {
    const promptTokens = tokens.length;
    const slot = await this.acquire(tokens, signal);
    const meter = slot.sequence.tokenMeter;
    const inputBefore = meter.usedInputTokens;
    const outputBefore = meter.usedOutputTokens;
    let clean = false;
    try {
      const result = await slot.chat.generateResponse(history, {
        signal,
        maxTokens,
        temperature: request.temperature ?? DEFAULT_TEMPERATURE,
        topK: request.topK ?? DEFAULT_TOP_K,
        topP: request.topP ?? DEFAULT_TOP_P,
        ...(request.minP !== undefined ? { minP: request.minP } : {}),
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
        ...(grammar ? { grammar } : {}),
        ...(stop.length > 0 ? { customStopTriggers: stop } : {}),
        repeatPenalty: repeatPenaltyOf(request),
        // reasoning_effort none/minimal: no thought tokens; a level: node-llama-cpp's default budget.
        ...(request.think === false ? { budgets: { thoughtTokens: 0 } } : {}),
        contextShift: {
          strategy: () => {
            throw new EngineError('permanent', 'context_length_exceeded', 'the prompt does not fit the context window');
          },
        },
      });
      clean = true;
      // The meter counts evaluated prompt tokens as input, except the last, whose logits make
      // it an "output" like every sampled token: input = evaluated - 1, output = generated.
      const evaluated = meter.usedInputTokens - inputBefore + 1;
      return {
        content: result.response,
        finishReason: result.metadata.stopReason === 'maxTokens' ? 'length' : 'stop',
        promptTokens,
        completionTokens: meter.usedOutputTokens - outputBefore,
        cachedTokens: Math.min(promptTokens, Math.max(0, promptTokens - evaluated)),
        model: this.modelName,
        ...this.reasoningOf(result.fullResponse),
      };
    } catch (error) {
      if (signal.aborted) {
        clean = true; // an aborted generation leaves a valid (partial) state behind
        throw abortedError(signal);
      }
      if (error instanceof EngineError) throw error;
      if (this.closed) throw new EngineError('unreachable', 'engine_unreachable', 'the llama-cpp engine was closed');
      const message = error instanceof Error ? error.message : String(error);
      throw new EngineError('transient', 'server_error', `llama-cpp: ${message}`);
    } finally {
      this.release(slot, clean);
    }
  }

  /** The thought segments' tokens, where the model thought (kept out of `response`). */
  private reasoningOf(fullResponse: ReadonlyArray<string | LlamaChatResponseSegment>): { reasoningTokens?: number } {
    const thoughts = fullResponse.filter(
      (part): part is LlamaChatResponseSegment => typeof part !== 'string' && part.segmentType === 'thought',
    );
    if (thoughts.length === 0) return {};
    return { reasoningTokens: this.model.tokenize(thoughts.map((part) => part.text).join('')).length };
  }

  async listModels(): Promise<string[]> {
    return [this.modelName];
  }

  async slots(): Promise<number> {
    return this.allSlots.length;
  }

  /** The context size it was loaded with, less the cell that must stay free (see chat); its KV cache is already allocated. */
  async modelFacts(): Promise<ModelFacts> {
    return { contextLength: this.contextSize - 1 };
  }

  async countPromptTokens(request: ChatRequest): Promise<number> {
    return this.tokenize(toHistory(request.messages)).length;
  }

  async ping(): Promise<boolean> {
    return !this.closed && !this.context.disposed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new EngineError('unreachable', 'engine_unreachable', 'the llama-cpp engine was closed');
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    for (const slot of this.allSlots) slot.chat.dispose();
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }

  /** The prompt as the model will see it: the chat template applied, then tokenized. */
  private tokenize(history: ChatHistoryItem[]): Token[] {
    const wrapper = this.allSlots[0]!.chat.chatWrapper;
    return wrapper.generateContextState({ chatHistory: history }).contextText.tokenize(this.model.tokenizer);
  }

  private grammarFor(format: 'json' | Record<string, unknown>): Promise<LlamaGrammar> {
    if (format === 'json') {
      this.jsonGrammar ??= this.llama.getGrammarFor('json');
      return this.jsonGrammar;
    }
    const key = JSON.stringify(format);
    let grammar = this.schemaGrammars.get(key);
    if (!grammar) {
      type Schema = Parameters<Llama['createGrammarForJsonSchema']>[0];
      grammar = this.llama.createGrammarForJsonSchema(format as Schema).catch((error: unknown) => {
        this.schemaGrammars.delete(key);
        const message = error instanceof Error ? error.message : String(error);
        throw new EngineError('permanent', 'invalid_request', `unsupported JSON schema: ${message}`, 400);
      });
      this.schemaGrammars.set(key, grammar);
    }
    return grammar;
  }

  /**
   * A free slot, preferring the one whose cached tokens share the longest prefix with the
   * prompt; when none is free, waits in FIFO order.
   */
  private acquire(tokens: Token[], signal: AbortSignal): Promise<Slot> {
    if (this.free.length > 0) {
      let best = 0;
      let bestShared = -1;
      for (const [i, slot] of this.free.entries()) {
        const shared = slot.sequence.compareContextTokens(tokens).firstDifferentIndex;
        if (shared > bestShared) {
          best = i;
          bestShared = shared;
        }
      }
      return Promise.resolve(this.free.splice(best, 1)[0]!);
    }
    return new Promise<Slot>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(abortedError(signal));
      };
      const waiter: Waiter = {
        grant: (slot) => {
          signal.removeEventListener('abort', onAbort);
          resolve(slot);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private release(slot: Slot, clean: boolean): void {
    const handOver = (): void => {
      if (this.closed) return;
      const waiter = this.waiters.shift();
      if (waiter) waiter.grant(slot);
      else this.free.push(slot);
    };
    if (clean || this.closed) {
      handOver();
      return;
    }
    // After an unexpected failure the sequence's state is unknown: start it over.
    slot.sequence.clearHistory().then(handOver, handOver);
  }
}

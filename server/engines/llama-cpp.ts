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
  ChatWrapper,
  Llama,
  LlamaChat,
  LlamaChatResponseSegment,
  LlamaContext,
  LlamaContextSequence,
  LlamaGrammar,
  LlamaGrammarEvaluationState,
  LlamaModel,
  LLamaChatGenerateResponseOptions,
  LLamaContextualRepeatPenalty,
  Token,
} from 'node-llama-cpp';
import type { ChatMessage } from '../protocol/openai.js';
import { EngineError, type ChatRequest, type ChatResult, type Engine, type ModelFacts } from './engine.js';
import type { TokenLogprob } from '../openai/types.js';
import { messageText } from '../openai/chat.js';
import { EMBEDDED_ENGINE_NUM_CTX } from '../context/num-ctx.js';
import { importNodeLlamaCpp } from './node-llama-cpp-module.js';
import { answerGrammar, jsonSchemaToGbnf, UnsupportedSchemaError } from './json-grammar.js';

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

/** The grammar an answer is sampled under, and the opening every answer starts with (json-grammar.ts). */
interface AnswerGrammar {
  grammar: LlamaGrammar;
  /** Written after the prompt instead of sampled; '' where the grammar forces no opening. */
  opening: string;
}

/** A request made ready to generate. */
interface Prepared {
  /** The chat, ending with the model's turn, which holds the opening. */
  history: ChatHistoryItem[];
  /** The prompt's tokens, then the opening's. */
  tokens: Token[];
  promptTokens: number;
  opening: string;
  openingTokens: number;
  /** Completion tokens at most, the opening's included. */
  maxTokens: number;
  grammar: LlamaGrammar | undefined;
  stop: string[];
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

/** The sampler's settings, the same with logprobs and without. */
function samplingOf(
  request: ChatRequest,
): Pick<LLamaChatGenerateResponseOptions, 'temperature' | 'topK' | 'topP' | 'minP' | 'seed'> {
  return {
    temperature: request.temperature ?? DEFAULT_TEMPERATURE,
    topK: request.topK ?? DEFAULT_TOP_K,
    topP: request.topP ?? DEFAULT_TOP_P,
    ...(request.minP !== undefined ? { minP: request.minP } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
  };
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

/** One token in OpenAI's logprobs shape; no bytes where the token is part of a character (U+FFFD). */
function logprobOf(token: string, probability: number): { token: string; logprob: number; bytes: number[] | null } {
  return {
    token,
    logprob: Math.log(probability),
    bytes: token.includes('\uFFFD') ? null : [...Buffer.from(token, 'utf8')],
  };
}

/** Where the first stop string begins in the text, or -1. */
function firstStop(text: string, stop: readonly string[]): number {
  const found = stop.map((s) => text.indexOf(s)).filter((at) => at >= 0);
  return found.length === 0 ? -1 : Math.min(...found);
}

/** The tokens that begin before the text offset `end`. */
function before(logprobs: TokenLogprob[], end: number): TokenLogprob[] {
  let offset = 0;
  return logprobs.filter((entry) => {
    const starts = offset;
    offset += entry.token.length;
    return starts < end;
  });
}

/** OpenAI messages → node-llama-cpp chat history, ending with the model turn to generate (begun with `opening`). */
function toHistory(messages: readonly ChatMessage[], opening = ''): ChatHistoryItem[] {
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
  history.push({ type: 'model', response: opening === '' ? [] : [opening] });
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
  private readonly schemaGrammars = new Map<string, Promise<AnswerGrammar>>();
  private jsonGrammar: Promise<LlamaGrammar> | undefined;
  private closed = false;
  private active = 0;

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly allSlots: readonly Slot[],
    /** node-llama-cpp's class, for sampling under a grammar outside LlamaChat (logprobs). */
    private readonly GrammarState: typeof LlamaGrammarEvaluationState,
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
    const { getLlama, LlamaChat, LlamaGrammarEvaluationState, LlamaLogLevel } = await importNodeLlamaCpp();
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
      return new LlamaCppEngine(
        llama,
        model,
        context,
        allSlots,
        LlamaGrammarEvaluationState,
        options.modelPath,
        threads,
      );
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
    if (request.logprobs && this.chatWrapper.settings.segments?.thought) {
      // The logprobs path samples outside LlamaChat, which is what keeps thoughts apart.
      throw new EngineError(
        'permanent',
        'unsupported_parameter',
        `logprobs: the llama-cpp engine gives none for a thinking model (chat template ${this.chatWrapper.wrapperName}): its thoughts would be mixed into the answer`,
        400,
      );
    }
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
    const stop = (request.stop ?? []).filter((s) => s.length > 0);
    const prepared = await this.prepare(request, history, tokens, maxTokens, stop);
    // An abort while the grammar was made would find no listener below.
    if (signal.aborted) throw abortedError(signal);

    // One listener on the caller's signal per request (a whole batch may share one signal);
    // node-llama-cpp's own listeners go on this request's signal.
    const controller = new AbortController();
    const forward = (): void => controller.abort(signal.reason);
    this.active++;
    if (getMaxListeners(signal) < this.active + 10) setMaxListeners(this.active + 10, signal);
    signal.addEventListener('abort', forward, { once: true });
    try {
      return await this.generate(prepared, request, controller.signal);
    } finally {
      signal.removeEventListener('abort', forward);
      this.active--;
    }
  }

  /**
   * The grammar, and the opening it forces written after the prompt, where the answer would
   * begin with it anyway: not where the model may think first, where a stop string could end
   * the answer inside or across the opening, or where max_tokens would cut it.
   */
  private async prepare(
    request: ChatRequest,
    history: ChatHistoryItem[],
    tokens: Token[],
    maxTokens: number,
    stop: string[],
  ): Promise<Prepared> {
    const plain = { history, tokens, promptTokens: tokens.length, opening: '', openingTokens: 0, maxTokens, stop };
    const { format } = request;
    if (format === undefined) return { ...plain, grammar: undefined };
    const thinks = request.think !== false && this.chatWrapper.settings.segments?.thought;
    if (!thinks && stop.length === 0) {
      const { grammar, opening } = await this.grammarFor(format, true);
      if (opening === '') return { ...plain, grammar };
      const openedHistory = toHistory(request.messages, opening);
      const openedTokens = this.tokenize(openedHistory);
      const openingTokens = openedTokens.length - tokens.length;
      // The opening's tokens must follow the prompt's own and read back as the opening.
      const follows =
        tokens.every((token, i) => openedTokens[i] === token) &&
        this.model.detokenize(openedTokens.slice(tokens.length)) === opening;
      if (follows && openingTokens < maxTokens)
        return { ...plain, history: openedHistory, tokens: openedTokens, opening, openingTokens, grammar };
    }
    return { ...plain, grammar: (await this.grammarFor(format, false)).grammar };
  }

  private async generate(prepared: Prepared, request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    const { promptTokens, openingTokens, opening, grammar } = prepared;
    const slot = await this.acquire(prepared.tokens, signal);
    const meter = slot.sequence.tokenMeter;
    const inputBefore = meter.usedInputTokens;
    const outputBefore = meter.usedOutputTokens;
    let clean = false;
    // The meter counts evaluated prompt tokens as input, except the last, whose logits make
    // it an "output" like every sampled token: input = evaluated - 1, output = generated. The
    // opening is evaluated with the prompt, and is the answer's.
    const usage = (): Pick<ChatResult, 'promptTokens' | 'completionTokens' | 'cachedTokens' | 'model'> => {
      const evaluated = meter.usedInputTokens - inputBefore + 1 - openingTokens;
      return {
        promptTokens,
        completionTokens: meter.usedOutputTokens - outputBefore + openingTokens,
        cachedTokens: Math.min(promptTokens, Math.max(0, promptTokens - evaluated)),
        model: this.modelName,
      };
    };
    try {
      if (request.logprobs) {
        const answer = await this.sampleWithLogprobs(slot.sequence, prepared, request, signal);
        clean = true;
        return { ...answer, ...usage() };
      }
      const result = await slot.chat.generateResponse(prepared.history, {
        signal,
        maxTokens: prepared.maxTokens - openingTokens,
        ...samplingOf(request),
        ...(grammar ? { grammar } : {}),
        ...(prepared.stop.length > 0 ? { customStopTriggers: prepared.stop } : {}),
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
      return {
        content: opening + result.response,
        finishReason: result.metadata.stopReason === 'maxTokens' ? 'length' : 'stop',
        ...usage(),
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

  /**
   * The answer sampled token by token on the slot's sequence with each token's log probability,
   * which LlamaChat does not give: the same prompt tokens, cached prefix, grammar and sampling,
   * through node-llama-cpp's evaluateWithMetadata. The probabilities are those the token was
   * drawn from: after the grammar and top_k/top_p, renormalised (at temperature 0, the model's
   * own over the tokens the grammar allows). Generation ends at an end-of-generation token,
   * max_tokens or a stop string (the chat template's text stop triggers are not watched: its
   * end token ends the turn). A thinking model is refused in chat(): LlamaChat keeps thoughts apart.
   * The opening's tokens were forced: each has probability 1 and no alternative.
   */
  private async sampleWithLogprobs(
    sequence: LlamaContextSequence,
    { tokens, promptTokens, maxTokens, grammar, stop }: Prepared,
    request: ChatRequest,
    signal: AbortSignal,
  ): Promise<Pick<ChatResult, 'content' | 'finishReason' | 'logprobs'>> {
    // As LlamaChat does: keep the cached prefix, and evaluate at least the last prompt token.
    await sequence.adaptStateToTokens(tokens.slice(0, -1), false);
    const alternatives = request.topLogprobs ?? 0;
    const penalty = repeatPenaltyOf(request);
    // The answer's tokens, the opening's first.
    const generated: Token[] = [];
    const logprobs: TokenLogprob[] = [];
    const pieceOf = (token: Token): string => this.model.detokenize([token], false, generated.slice(-8));
    for (const token of tokens.slice(promptTokens)) {
      const forced = logprobOf(pieceOf(token), 1);
      logprobs.push({ ...forced, top_logprobs: alternatives > 0 ? [forced] : [] });
      generated.push(token);
    }
    const outputs = sequence.evaluateWithMetadata(
      tokens.slice(sequence.nextTokenIndex),
      // The whole vocabulary's probabilities cost time per token: only when alternatives are asked for.
      { confidence: true, probabilities: alternatives > 0 },
      {
        ...samplingOf(request),
        // LlamaChat's default: the penalty looks at the last 64 generated tokens.
        ...(penalty ? { repeatPenalty: { ...penalty, punishTokens: () => generated.slice(-64) } } : {}),
        ...(grammar ? { grammarEvaluationState: new this.GrammarState({ model: this.model, grammar }) } : {}),
        contextShift: {
          strategy: () => {
            throw new EngineError('permanent', 'context_length_exceeded', 'the prompt does not fit the context window');
          },
        },
      },
    );
    for await (const output of outputs) {
      const { token, confidence } = output;
      const { probabilities } = output as { probabilities?: Map<Token, number> };
      if (signal.aborted) break;
      const top: TokenLogprob['top_logprobs'] = [];
      for (const [candidate, probability] of probabilities ?? []) {
        if (top.length >= alternatives || probability <= 0) break;
        top.push(logprobOf(pieceOf(candidate), probability));
      }
      logprobs.push({ ...logprobOf(pieceOf(token), confidence), top_logprobs: top });
      generated.push(token);
      const content = this.model.detokenize(generated);
      const at = firstStop(content, stop);
      if (at >= 0) return { content: content.slice(0, at), finishReason: 'stop', logprobs: before(logprobs, at) };
      if (generated.length >= maxTokens) return { content, finishReason: 'length', logprobs };
    }
    if (signal.aborted) throw abortedError(signal);
    return { content: this.model.detokenize(generated), finishReason: 'stop', logprobs };
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

  /** The model's chat template (every slot's chat has the same). */
  private get chatWrapper(): ChatWrapper {
    return this.allSlots[0]!.chat.chatWrapper;
  }

  /** The prompt as the model will see it: the chat template applied, then tokenized. */
  private tokenize(history: ChatHistoryItem[]): Token[] {
    return this.chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(this.model.tokenizer);
  }

  /** The grammar for the format; with `open`, the opening it forces taken out (answerGrammar). */
  private async grammarFor(format: 'json' | Record<string, unknown>, open: boolean): Promise<AnswerGrammar> {
    if (format === 'json') {
      this.jsonGrammar ??= this.llama.getGrammarFor('json');
      return { grammar: await this.jsonGrammar, opening: '' };
    }
    const key = `${open ? 'opened' : 'whole'} ${JSON.stringify(format)}`;
    let grammar = this.schemaGrammars.get(key);
    if (!grammar) {
      grammar = this.createSchemaGrammar(format, open).catch((error: unknown) => {
        this.schemaGrammars.delete(key);
        const message = error instanceof Error ? error.message : String(error);
        throw new EngineError('permanent', 'invalid_request', `unsupported JSON schema: ${message}`, 400);
      });
      this.schemaGrammars.set(key, grammar);
    }
    return grammar;
  }

  /**
   * Our own grammar (bounds kept, compact JSON: see json-grammar.ts); for a schema it cannot
   * convert, node-llama-cpp's, which keeps keys, types and enums but not bounds or patterns (the
   * answer check catches what that lets through), with no opening taken out.
   */
  private async createSchemaGrammar(schema: Record<string, unknown>, open: boolean): Promise<AnswerGrammar> {
    let written: { opening: string; grammar: string };
    try {
      written = open ? answerGrammar(schema) : { opening: '', grammar: jsonSchemaToGbnf(schema) };
    } catch (error) {
      if (!(error instanceof UnsupportedSchemaError)) throw error;
      type Schema = Parameters<Llama['createGrammarForJsonSchema']>[0];
      return { grammar: await this.llama.createGrammarForJsonSchema(schema as Schema), opening: '' };
    }
    return { grammar: await this.llama.createGrammar({ grammar: written.grammar }), opening: written.opening };
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

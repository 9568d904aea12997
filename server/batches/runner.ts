// Runs one batch: streams its input, keeps at most `concurrency` requests in flight, retries
// transient faults with backoff, pauses while the engine is unreachable, checks answers against
// the JSON schema they were asked for (a retry, the pilot check), and appends every answer to the
// output or error journal. Knows nothing of the store or of any transport.
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_REQUEST_TIMEOUT_MS } from '../config/defaults.js';
import { fitRequest, outputTokensOf, type PromptCounter } from '../context/budget.js';
import type { Calibration } from '../context/calibration.js';
import { ConversationPool, type BatchMode, type Conversation } from '../context/conversation.js';
import { MIN_NUM_CTX, numCtxAfterOutOfMemory } from '../context/num-ctx.js';
import type { TrimStrategy } from '../context/trim.js';
import { EngineError, type ChatRequest, type Engine } from '../engines/engine.js';
import { chatChoices } from '../engines/choices.js';
import { toChatCompletion, toChatRequest } from '../engines/translate.js';
import { uniqueId } from '../ids/unique-id.js';
import { readLines } from '../jsonl/lines.js';
import type { Adjustment } from '../protocol/metrics.js';
import type { BatchOutputLine, RequestRecord } from '../openai/types.js';
import type { BatchInputLine } from '../protocol/openai.js';
import type { AnswerCheck } from '../openai/answer-check.js';
import { checkRequested, PilotCheck, retryBody, type PilotOptions, type PilotVerdict } from './answer-checks.js';
import { EngineGate } from './gate.js';
import { JournalWriter, addUsage, recoverJournals, type JournalProgress } from './journal.js';

export interface RunnerOptions {
  concurrency: number;
  /** The name the engine serves the batch's model under (a model alias's target); default: the lines' own. */
  model?: string;
  requestTimeoutMs: number;
  /** Tries per request for transient faults before it becomes an error line. */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  numCtx?: number;
  /** With a num_ctx: every request is measured against it first, and trimmed or refused. */
  context?: RunContext;
  /** An answer that is not JSON or breaks its schema gets one more try (answer-checks.ts retryBody). */
  retryInvalid?: boolean;
  /** The pilot check, while the batch has no verdict yet (none passed, none overridden). */
  pilot?: PilotOptions;
}

export interface RunContext {
  /** independent (default): each request alone; conversation: appended to a worker's running conversation. */
  mode?: BatchMode;
  /** Conversation mode: trim every this many requests too (0: only at the threshold). */
  trimEvery?: number;
  strategy: TrimStrategy;
  counter: PromptCounter;
  calibration: Calibration;
  /** Aggressive trimming aims at this share of the budget (VRAM pressure). */
  aggressiveFraction?: number;
  /** Trimming may shorten the middle of one message (never the system or the last user message). */
  allowCut?: boolean;
}

export interface Answered {
  /** The successful try, from sending to the whole answer. */
  latencyMs: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Our estimate of the prompt sent, uncalibrated, where the request was measured. */
  estimatedPromptTokens?: number;
  trim?: RequestRecord['trim'];
  numCtx?: number;
}

/** Answers in a row at one concurrency, none out of memory, that show the concurrency holds. */
const ANSWERS_TO_HOLD = 20;

export const DEFAULT_RUNNER_OPTIONS: Omit<RunnerOptions, 'concurrency'> = {
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
};

export interface RunFiles {
  input: string;
  output: string;
  error: string;
}

/** cancelled and expired end the batch; interrupted (daemon shutdown) leaves it to resume. */
export type StopReason = 'cancelled' | 'expired' | 'interrupted';
/** paused: the pilot check failed; its lines in flight were answered, the rest wait for a resume. */
export type RunOutcome = 'completed' | 'paused' | StopReason;

export type RunProgress = JournalProgress;

export interface RunHooks {
  /** Called after every finished line; the caller throttles what it does with it. */
  onProgress(progress: RunProgress): void;
  /** A reason while the batch waits for its engine, null when it goes on. */
  onPause(reason: string | null): void;
  /** An answer came back. */
  onAnswered(answer: Answered): void;
  /** A try failed: `final` when it becomes the request's error line, else it is tried again. */
  onFailed(code: string, final: boolean): void;
  /** The run lowered its concurrency or num_ctx (out of memory, VRAM pressure) or raised it back. */
  onAdjusted(adjustment: Adjustment): void;
  /** The pilot check's verdict; a failed one pauses the run (it sends nothing more and ends `paused`). */
  onPilot?(verdict: PilotVerdict): void;
}

/** Up to `limit` holders at once; the others wait in order. The limit may change as it runs. */
class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  private drained: (() => void) | null = null;
  constructor(public limit: number) {}

  acquire(): Promise<void> | void {
    if (this.used < this.limit) {
      this.used++;
      return;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    // Above a lowered limit, a freed slot is not handed on.
    const next = this.used <= this.limit ? this.waiting.shift() : undefined;
    if (next) return next();
    this.used--;
    if (this.used === 0) this.drained?.();
  }

  /** For a holder about to go again: above a lowered limit, its slot goes back and it waits in line. */
  async fit(): Promise<void> {
    if (this.used <= this.limit) return;
    this.used--;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  setLimit(limit: number): void {
    this.limit = limit;
    while (this.used < this.limit && this.waiting.length > 0) {
      this.used++;
      this.waiting.shift()!();
    }
  }

  idle(): Promise<void> {
    if (this.used === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }
}

export class BatchRun {
  private readonly stopper = new AbortController();
  private readonly progress: RunProgress = {
    completed: 0,
    failed: 0,
    usage: { promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 },
  };
  /** custom_ids started but not finished when the run stopped: they get a stop line. */
  private readonly abandoned: string[] = [];
  private output!: JournalWriter;
  private errors!: JournalWriter;
  private readonly slots: Slots;
  /** Recovery after running out of memory climbs back to it, never above. */
  private readonly configuredConcurrency: number;
  private numCtx: number | undefined;
  /** Bumped at every adjustment: an out-of-memory answer to a request sent before it lowers nothing more. */
  private limitsVersion = 0;
  /** The concurrency before VRAM pressure lowered it, while it lasts. */
  private limitBeforePressure: number | null = null;
  /** Answers in a row to requests sent at the limits as they are (an adjustment starts the count again). */
  private answersAtLimits = 0;
  /** The most concurrency that gave ANSWERS_TO_HOLD answers in a row and has not run out of memory since; 0 for none. */
  private heldConcurrency = 0;
  /** Raises that ran out of memory: each doubles the answers the next raise waits for. */
  private failedRaises = 0;
  private readonly conversations = new ConversationPool();
  /** The first failed journal write (a full disk): the run stops and run() throws it. */
  private journalFailure: Error | null = null;
  /** Counts the first answers until its verdict; null once given (or with no pilot check). */
  private pilot: PilotCheck | null;
  /** Set by a failed pilot check: no new line is sent, those in flight finish. */
  private paused = false;

  constructor(
    private readonly files: RunFiles,
    private readonly engine: Engine,
    private readonly options: RunnerOptions,
    private readonly hooks: RunHooks,
    /** Epoch ms after which the rest of the batch expires; null for never. */
    private readonly expiresAt: number | null,
  ) {
    this.configuredConcurrency = Math.max(1, options.concurrency);
    this.slots = new Slots(this.configuredConcurrency);
    this.numCtx = options.numCtx;
    this.pilot = options.pilot && options.pilot.answers > 0 ? new PilotCheck(options.pilot) : null;
  }

  /**
   * What the next batch may learn (limits change after out-of-memory answers and under VRAM
   * pressure): the most concurrency that held (before any held, the current one), num_ctx as it is.
   */
  get heldLimits(): { concurrency: number; numCtx: number | undefined } {
    return { concurrency: this.heldConcurrency || this.slots.limit, numCtx: this.numCtx };
  }

  /**
   * VRAM pressure from the monitor: above the warning level trimming turns aggressive and the
   * concurrency halves; back to normal, the concurrency returns.
   */
  setPressure(level: 'normal' | 'warning' | 'critical'): void {
    const pressed = level !== 'normal';
    if (pressed === (this.limitBeforePressure !== null)) return;
    if (pressed) {
      this.limitBeforePressure = this.slots.limit;
      this.adjust(`VRAM ${level}: aggressive trimming, concurrency halved`, Math.ceil(this.slots.limit / 2));
    } else {
      const before = this.limitBeforePressure!;
      this.limitBeforePressure = null;
      this.adjust('VRAM back to normal: trimming and concurrency as before', Math.max(this.slots.limit, before));
    }
  }

  private adjust(reason: string, concurrency: number, numCtx = this.numCtx): void {
    this.limitsVersion++;
    this.answersAtLimits = 0;
    this.slots.setLimit(concurrency);
    this.numCtx = numCtx;
    this.hooks.onAdjusted({ at: Date.now(), reason, concurrency, ...(numCtx !== undefined && { numCtx }) });
  }

  /**
   * After an out-of-memory answer: back to the most concurrency that held when this was more,
   * else half the concurrency, then at 1 a smaller num_ctx. False when nothing is left to lower.
   */
  private lowerAfterOutOfMemory(sentAt: number): boolean {
    if (sentAt !== this.limitsVersion) return true; // already lowered since that request went out
    this.answersAtLimits = 0; // even where nothing is left to lower: the answers in a row start again
    const concurrency = this.slots.limit;
    if (this.heldConcurrency > 0 && concurrency > this.heldConcurrency) {
      // A raise (or the end of VRAM pressure) went past what held: back to it, and try again later.
      this.failedRaises++;
      this.adjust(
        `out of memory at concurrency ${concurrency}: back to ${this.heldConcurrency}, the most that held`,
        this.heldConcurrency,
      );
      return true;
    }
    // What held runs out now (something else took the memory): what holds is learned again from below.
    this.heldConcurrency = 0;
    if (concurrency > 1) {
      this.adjust('out of memory: concurrency halved', Math.floor(concurrency / 2));
      return true;
    }
    // num_ctx stays lowered for the rest of the run: one request alone did not fit, which more
    // answers will not change, and every new num_ctx reloads an Ollama model.
    if (this.numCtx !== undefined && this.numCtx > MIN_NUM_CTX) {
      this.adjust('out of memory at concurrency 1: num_ctx lowered', 1, numCtxAfterOutOfMemory(this.numCtx));
      return true;
    }
    return false;
  }

  /**
   * An answer to a request sent at the limits as they are. ANSWERS_TO_HOLD in a row show the
   * concurrency holds, and it goes one up (after twice as many for every raise that ran out of
   * memory), up to the configured concurrency, or half of it under VRAM pressure.
   */
  private answeredAt(sentAt: number): void {
    if (sentAt !== this.limitsVersion) return;
    const concurrency = this.slots.limit;
    this.answersAtLimits++;
    if (this.answersAtLimits >= ANSWERS_TO_HOLD) this.heldConcurrency = Math.max(this.heldConcurrency, concurrency);
    const ceiling =
      this.limitBeforePressure === null ? this.configuredConcurrency : Math.ceil(this.limitBeforePressure / 2);
    if (concurrency < ceiling && this.answersAtLimits >= ANSWERS_TO_HOLD * 2 ** this.failedRaises) {
      this.adjust(
        `recovered after ${this.answersAtLimits} answers without running out of memory: concurrency raised`,
        concurrency + 1,
      );
    }
  }

  /**
   * Stops the run: in-flight requests are aborted; when the batch ends (cancelled, expired)
   * unfinished lines get `batch_<reason>`, when it is interrupted they wait for the next start.
   */
  stop(reason: StopReason): void {
    if (!this.stopper.signal.aborted) this.stopper.abort(reason);
  }

  private get stopReason(): StopReason | null {
    return this.stopper.signal.aborted ? (this.stopper.signal.reason as StopReason) : null;
  }

  async run(): Promise<RunOutcome> {
    const { finished, progress } = await recoverJournals(this.files);
    Object.assign(this.progress, progress);
    this.hooks.onProgress(this.progress);
    // A journal that cannot be written stops the run as a shutdown would; run() then throws the error.
    const onJournalFailure = (error: Error): void => {
      this.journalFailure ??= error;
      this.stop('interrupted');
    };
    this.output = new JournalWriter(this.files.output, onJournalFailure);
    this.errors = new JournalWriter(this.files.error, onJournalFailure);
    const expiry = this.armExpiry();
    const gate = new EngineGate(
      () => this.engine.ping(),
      (reason) => this.hooks.onPause(reason),
      this.stopper.signal,
    );
    const slots = this.slots;
    let stoppedAtLine = Infinity;
    let outcome: RunOutcome;
    try {
      for await (const line of readLines(this.files.input)) {
        if (this.stopReason || this.paused) {
          stoppedAtLine = line.number;
          break;
        }
        const request = parseRequest(line.bytes);
        if (!request || finished.has(request.custom_id)) continue;
        await slots.acquire();
        if (this.stopReason || this.paused) {
          slots.release();
          stoppedAtLine = line.number;
          break;
        }
        void this.answer(request, gate).finally(() => slots.release());
      }
      await slots.idle();
      const reason = this.stopReason;
      if ((reason === 'cancelled' || reason === 'expired') && !this.journalFailure)
        await this.writeStopLines(reason, stoppedAtLine, finished);
      // Paused with every line sent, nothing is left to wait for: the batch completes.
      outcome = reason ?? (stoppedAtLine === Infinity ? 'completed' : 'paused');
    } finally {
      clearTimeout(expiry);
      await Promise.all([this.output.close(), this.errors.close()]);
    }
    if (this.journalFailure) throw this.journalFailure;
    return outcome;
  }

  private armExpiry(): NodeJS.Timeout | undefined {
    if (this.expiresAt === null) return undefined;
    // setTimeout holds at most 2^31-1 ms (~24.8 days); windows are shorter than that.
    const delay = Math.min(Math.max(0, this.expiresAt - Date.now()), 2 ** 31 - 1);
    return setTimeout(() => this.stop('expired'), delay);
  }

  /** Sends one request until it has an answer, a permanent error, or the run stops. */
  private async answer(request: BatchInputLine, gate: EngineGate): Promise<void> {
    const conversation = this.options.context?.mode === 'conversation' ? this.conversations.take() : undefined;
    try {
      await this.answerIn(request, gate, conversation);
    } finally {
      if (conversation) this.conversations.give(conversation);
    }
  }

  private async answerIn(
    request: BatchInputLine,
    gate: EngineGate,
    conversation: Conversation | undefined,
  ): Promise<void> {
    // What is sent: the line's request, or after an invalid answer its retry (retryInvalid).
    let asked = request;
    let retried: RequestRecord['retried'];
    for (let attempt = 1; ; attempt++) {
      await gate.whenOpen();
      if (this.stopReason) return void this.abandoned.push(request.custom_id);
      // Measured at every try: num_ctx may have been lowered since the last one.
      const prepared = this.prepare(asked, conversation);
      if ('refused' in prepared) return this.recordFailure(request.custom_id, prepared.refused);
      let failure: EngineError;
      const attemptSignal = this.attemptSignal();
      const sentAt = this.limitsVersion;
      try {
        const started = performance.now();
        const result = await chatChoices(this.engine, prepared.chat, attemptSignal.signal);
        const latencyMs = performance.now() - started;
        if (prepared.estimated !== undefined)
          this.options.context!.calibration.observe(prepared.estimated, result.promptTokens);
        const check = checkRequested(asked.body, result.content);
        const retrying = check?.valid === false && this.options.retryInvalid === true && !retried;
        const record: RequestRecord = { latency_ms: Math.round(latencyMs * 10) / 10, attempts: attempt };
        // A conversation goes on with the answer the line keeps, not with one that is tried again.
        const trim =
          (conversation && !retrying && this.remember(conversation, prepared.chat, result.content, request)) ||
          prepared.trim;
        if (trim) record.trim = trim;
        this.hooks.onAnswered({
          latencyMs,
          promptTokens: result.promptTokens,
          completionTokens: result.completionTokens,
          cachedTokens: result.cachedTokens ?? 0,
          ...(prepared.estimated !== undefined && { estimatedPromptTokens: prepared.estimated }),
          ...(trim && { trim }),
          ...(this.numCtx !== undefined && { numCtx: this.numCtx }),
        });
        this.answeredAt(sentAt);
        if (retrying) {
          asked = { ...request, body: retryBody(request.body) };
          retried = { reason: check.reason, temperature: asked.body.temperature! };
          if (asked.body.seed !== undefined) retried.seed = asked.body.seed;
          attempt = 0; // the retry gets its own tries for transient faults
          continue;
        }
        if (retried) record.retried = retried;
        // The answer names the model the engine says answered (an alias's target), as OpenAI's
        // name the snapshot that ran; the batch's own `model` keeps what the file asked for.
        this.record(this.output, {
          id: uniqueId('batch_req_'),
          custom_id: request.custom_id,
          response: { status_code: 200, request_id: uniqueId('req_'), body: toChatCompletion(result) },
          error: null,
          ollama_batch: record,
        });
        return this.judge(check);
      } catch (error) {
        failure = error instanceof EngineError ? error : new EngineError('transient', 'server_error', String(error));
      } finally {
        attemptSignal.done();
      }
      if (this.stopReason) return void this.abandoned.push(request.custom_id);
      if (failure.kind === 'unreachable') {
        gate.close(failure.message);
        attempt = 0;
        continue;
      }
      // A try that ran out of memory at limits since lowered does not count against the request.
      if (failure.code === 'out_of_memory' && this.lowerAfterOutOfMemory(sentAt)) attempt--;
      if (
        failure.kind === 'transient' &&
        attempt >= this.options.maxAttempts &&
        !(await this.engine.ping().catch(() => false))
      ) {
        gate.close(failure.message);
        attempt = 0;
        continue;
      }
      if (failure.kind === 'permanent' || attempt >= this.options.maxAttempts)
        return this.recordFailure(request.custom_id, failure);
      this.hooks.onFailed(failure.code, false);
      const backoff = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
      await sleep(backoff * (0.5 + Math.random() * 0.5), undefined, { signal: this.stopper.signal }).catch(
        () => undefined,
      );
      // A concurrency lowered since (out of memory, VRAM pressure) holds for the next try too.
      await this.slots.fit();
    }
  }

  /**
   * The engine request for a line: measured against num_ctx, trimmed if it is a conversation
   * that does not fit, refused if it still cannot; its answer capped to the room left.
   */
  private prepare(
    request: BatchInputLine,
    conversation?: Conversation,
  ): { chat: ChatRequest; estimated?: number; trim?: RequestRecord['trim'] } | { refused: EngineError } {
    const context = this.options.context;
    const model = this.options.model;
    if (!context || this.numCtx === undefined) return { chat: toChatRequest(request.body, this.numCtx, model) };
    const asked = conversation
      ? { ...request.body, messages: conversation.messagesFor(request.body.messages) }
      : request.body;
    const fitted = fitRequest(asked, {
      numCtx: this.numCtx,
      strategy: this.limitBeforePressure === null ? context.strategy : 'aggressive',
      counter: context.counter,
      calibration: context.calibration,
      ...(context.aggressiveFraction !== undefined && { aggressiveFraction: context.aggressiveFraction }),
      ...(context.allowCut && { allowCut: true }),
    });
    if (!fitted.fits) return { refused: new EngineError('permanent', 'context_length_exceeded', fitted.message, 400) };
    const body = { ...asked, messages: fitted.messages, max_tokens: fitted.maxTokens };
    delete body.max_completion_tokens;
    const prepared: { chat: ChatRequest; estimated?: number; trim?: RequestRecord['trim'] } = {
      chat: toChatRequest(body, this.numCtx, model),
      estimated: fitted.estimated,
    };
    const { trim } = fitted;
    if (trim && (trim.dropped > 0 || trim.cut)) {
      prepared.trim = {
        strategy: trim.strategy,
        dropped: trim.dropped,
        cut: trim.cut,
        tokens_before: context.calibration.apply(trim.tokensBefore),
        tokens_after: fitted.promptTokens,
      };
    }
    return prepared;
  }

  /** Conversation mode: the answer joins the worker's conversation, trimmed when it grows too long. */
  private remember(
    conversation: Conversation,
    sent: ChatRequest,
    answer: string,
    request: BatchInputLine,
  ): RequestRecord['trim'] | undefined {
    const context = this.options.context!;
    const budget = Math.floor((this.numCtx! - outputTokensOf(request.body)) / context.calibration.factor);
    const trim = conversation.answered(sent.messages, answer, {
      budget,
      strategy: context.strategy,
      count: (message) => context.counter.message(message),
      ...(context.trimEvery !== undefined && { trimEvery: context.trimEvery }),
    });
    if (!trim || trim.dropped === 0) return undefined;
    const { calibration } = context;
    return {
      strategy: trim.strategy,
      dropped: trim.dropped,
      cut: trim.cut,
      tokens_before: calibration.apply(trim.tokensBefore),
      tokens_after: calibration.apply(trim.tokensAfter),
    };
  }

  /**
   * Aborts one try on stop or after the request timeout. A timer we clear ourselves, not
   * AbortSignal.timeout inside AbortSignal.any: such a combined signal can be collected
   * before it fires (nodejs/node#48951), leaving a request that never times out.
   */
  private attemptSignal(): { signal: AbortSignal; done(): void } {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException('the engine did not answer in time', 'TimeoutError')),
      this.options.requestTimeoutMs,
    );
    const onStop = (): void => controller.abort(this.stopper.signal.reason);
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    return {
      signal: controller.signal,
      done: () => {
        clearTimeout(timer);
        this.stopper.signal.removeEventListener('abort', onStop);
      },
    };
  }

  /** Counts a written answer for the pilot check; a failed verdict pauses the run. */
  private judge(check: AnswerCheck | null): void {
    if (!check || !this.pilot) return;
    const verdict = this.pilot.add(check);
    if (!verdict) return;
    this.pilot = null;
    if (!verdict.passed) this.paused = true;
    this.hooks.onPilot?.(verdict);
  }

  private record(journal: JournalWriter, entry: BatchOutputLine): void {
    journal.append(entry);
    if (journal === this.output) this.progress.completed++;
    else this.progress.failed++;
    addUsage(this.progress.usage, entry);
    this.hooks.onProgress(this.progress);
  }

  private recordFailure(customId: string, failure: EngineError): void {
    this.hooks.onFailed(failure.code, true);
    const entry: BatchOutputLine = { id: uniqueId('batch_req_'), custom_id: customId, response: null, error: null };
    if (failure.status !== undefined) {
      const type = failure.status >= 500 ? 'server_error' : 'invalid_request_error';
      entry.response = {
        status_code: failure.status,
        request_id: uniqueId('req_'),
        body: { error: { message: failure.message, type, param: null, code: failure.code } },
      };
    } else {
      entry.error = { code: failure.code, message: failure.message };
    }
    this.record(this.errors, entry);
  }

  /** Writes a `batch_cancelled` / `batch_expired` line for every request left unanswered. */
  private async writeStopLines(
    reason: 'cancelled' | 'expired',
    fromLine: number,
    finished: Set<string>,
  ): Promise<void> {
    const message =
      reason === 'expired'
        ? 'the batch expired before this request was run'
        : 'the batch was cancelled before this request was run';
    const stopLine = (customId: string): void =>
      this.record(this.errors, {
        id: uniqueId('batch_req_'),
        custom_id: customId,
        response: null,
        error: { code: `batch_${reason}`, message },
      });
    this.abandoned.forEach(stopLine);
    if (fromLine === Infinity) return;
    for await (const line of readLines(this.files.input)) {
      if (line.number < fromLine) continue;
      const request = parseRequest(line.bytes);
      if (request && !finished.has(request.custom_id)) stopLine(request.custom_id);
    }
  }
}

/** A validated input line; null for blank lines. */
function parseRequest(bytes: Buffer | null): BatchInputLine | null {
  if (!bytes || bytes.length === 0) return null;
  const text = bytes.toString('utf8');
  return text.trim() === '' ? null : (JSON.parse(text) as BatchInputLine);
}

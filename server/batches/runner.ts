// Runs one batch: streams its input, keeps each endpoint's slots busy (lanes.ts), retries
// transient faults with backoff, sends a line elsewhere when its endpoint stops answering (and
// waits while every one is down), races the last slow lines on idle endpoints, checks answers
// against the JSON schema they were asked for (a retry, the pilot check), and appends every
// answer to the output or error journal, once. Knows nothing of the store or of any transport.
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_REQUEST_TIMEOUT_MS } from '../config/defaults.js';
import { fitRequest, outputTokensOf, type PromptCounter } from '../context/budget.js';
import type { Calibration } from '../context/calibration.js';
import { ConversationPool, type BatchMode, type Conversation } from '../context/conversation.js';
import type { TrimStrategy } from '../context/trim.js';
import { EngineError, type ChatRequest, type ChatResult } from '../engines/engine.js';
import { chatChoices } from '../engines/choices.js';
import { toChatCompletion, toChatRequest } from '../engines/translate.js';
import { uniqueId } from '../ids/unique-id.js';
import { readLines } from '../jsonl/lines.js';
import type { Adjustment } from '../protocol/metrics.js';
import type { BatchOutputLine, RequestRecord } from '../openai/types.js';
import type { BatchInputLine } from '../protocol/openai.js';
import type { AnswerCheck } from '../openai/answer-check.js';
import { checkRequested, PilotCheck, retryBody, type PilotOptions, type PilotVerdict } from './answer-checks.js';
import type { ServingEndpoint } from '../pool/pool.js';
import { JournalWriter, addUsage, recoverJournals, type JournalProgress } from './journal.js';
import type { VramPressure } from '../gpu/vram-monitor.js';
import { Lanes, type Lane } from './lanes.js';

export interface RunnerOptions {
  /** Requests in flight on one endpoint; in a pool, on each endpoint that has no concurrency of its own. */
  concurrency: number;
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
  /** The endpoint that answered. */
  endpoint: string;
}

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

/** One try's end: the answer, or why there is none. */
type TryOutcome =
  | { answered: ChatResult; lane: Lane; prepared: Prepared; latencyMs: number; sentAt: number }
  | { failed: EngineError; lane: Lane; sentAt: number };

type Prepared = { chat: ChatRequest; estimated?: number; trim?: RequestRecord['trim'] };

/** A line's try in flight, which an idle lane may race (a hedge) once the input is all sent. */
interface Flight {
  lane: Lane;
  startedAt: number;
  hedged: boolean;
  hedge(spare: Lane): void;
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
  private lanes!: Lanes;
  private pressure: VramPressure = 'normal';
  private readonly conversations = new ConversationPool();
  /** The first failed journal write (a full disk): the run stops and run() throws it. */
  private journalFailure: Error | null = null;
  /** Counts the first answers until its verdict; null once given (or with no pilot check). */
  private pilot: PilotCheck | null;
  /** Set by a failed pilot check: no new line is sent, those in flight finish. */
  private paused = false;
  /** Every line has been sent: from then on an idle lane may race a slow lane's tries. */
  private inputSent = false;
  private readonly flights = new Set<Flight>();
  private hedgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly files: RunFiles,
    /** The endpoints that serve the batch's model, each with its name for it (one, on a single engine). */
    private readonly serving: readonly ServingEndpoint[],
    private readonly options: RunnerOptions,
    private readonly hooks: RunHooks,
    /** Epoch ms after which the rest of the batch expires; null for never. */
    private readonly expiresAt: number | null,
  ) {
    if (serving.length === 0) throw new Error('a run needs an endpoint that serves its model');
    this.pilot = options.pilot && options.pilot.answers > 0 ? new PilotCheck(options.pilot) : null;
  }

  /**
   * What the next batch may learn (limits change after out-of-memory answers and under VRAM
   * pressure), on the default endpoint: the most concurrency that held, num_ctx as it is.
   */
  get heldLimits(): { concurrency: number; numCtx: number | undefined } {
    return this.lanes?.lanes[0]?.heldLimits ?? { concurrency: this.options.concurrency, numCtx: this.options.numCtx };
  }

  /**
   * VRAM pressure from the monitor: above the warning level trimming turns aggressive and the
   * concurrency halves; back to normal, the concurrency returns.
   */
  setPressure(level: VramPressure): void {
    this.pressure = level;
    this.lanes?.setPressure(level);
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
    // One endpoint runs at the batch's concurrency; in a pool each at its own, where it has one.
    const single = this.serving.length === 1;
    const lanes = (this.lanes = new Lanes(
      this.serving,
      ({ endpoint }) => (single ? this.options.concurrency : (endpoint.concurrency ?? this.options.concurrency)),
      this.options.numCtx,
      {
        onAdjusted: (adjustment) => this.hooks.onAdjusted(adjustment),
        onPause: (reason) => this.hooks.onPause(reason),
        onIdleSlots: () => this.hedge(),
      },
      this.stopper.signal,
    ));
    lanes.setPressure(this.pressure);
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
        const open = await lanes.openLine();
        if (!open || this.stopReason || this.paused) {
          if (open) lanes.closeLine();
          stoppedAtLine = line.number;
          break;
        }
        void this.answer(request).finally(() => lanes.closeLine());
      }
      this.inputSent = stoppedAtLine === Infinity;
      this.hedge();
      await lanes.idle();
      const reason = this.stopReason;
      if ((reason === 'cancelled' || reason === 'expired') && !this.journalFailure)
        await this.writeStopLines(reason, stoppedAtLine, finished);
      // Paused with every line sent, nothing is left to wait for: the batch completes.
      outcome = reason ?? (stoppedAtLine === Infinity ? 'completed' : 'paused');
    } finally {
      clearTimeout(expiry);
      clearTimeout(this.hedgeTimer);
      lanes.close();
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
  private async answer(request: BatchInputLine): Promise<void> {
    const conversation = this.options.context?.mode === 'conversation' ? this.conversations.take() : undefined;
    try {
      await this.answerIn(request, conversation);
    } finally {
      if (conversation) this.conversations.give(conversation);
    }
  }

  private async answerIn(request: BatchInputLine, conversation: Conversation | undefined): Promise<void> {
    // What is sent: the line's request, or after an invalid answer its retry (retryInvalid).
    let asked = request;
    let retried: RequestRecord['retried'];
    for (let attempt = 1; ; attempt++) {
      const lane = await this.lanes.takeSlot();
      if (!lane || this.stopReason) {
        if (lane) this.lanes.giveSlot(lane);
        return void this.abandoned.push(request.custom_id);
      }
      const outcome = await this.race(lane, asked, conversation);
      if ('refused' in outcome) return this.recordFailure(request.custom_id, outcome.refused);
      if (this.stopReason) return void this.abandoned.push(request.custom_id);
      if ('answered' in outcome) {
        const { answered: result, prepared, latencyMs, sentAt } = outcome;
        const { endpoint } = outcome.lane;
        if (prepared.estimated !== undefined)
          this.options.context!.calibration.observe(prepared.estimated, result.promptTokens);
        const check = checkRequested(asked.body, result.content);
        const retrying = check?.valid === false && this.options.retryInvalid === true && !retried;
        const record: RequestRecord = { latency_ms: Math.round(latencyMs * 10) / 10, attempts: attempt };
        if (this.serving.length > 1) record.endpoint = endpoint.name;
        // A conversation goes on with the answer the line keeps, not with one that is tried again.
        const trim =
          (conversation &&
            !retrying &&
            this.remember(conversation, prepared.chat, result.content, request, outcome.lane.numCtx!)) ||
          prepared.trim;
        if (trim) record.trim = trim;
        endpoint.answered({ latencyMs, promptTokens: result.promptTokens, completionTokens: result.completionTokens });
        this.hooks.onAnswered({
          latencyMs,
          promptTokens: result.promptTokens,
          completionTokens: result.completionTokens,
          cachedTokens: result.cachedTokens ?? 0,
          ...(prepared.estimated !== undefined && { estimatedPromptTokens: prepared.estimated }),
          ...(trim && { trim }),
          ...(outcome.lane.numCtx !== undefined && { numCtx: outcome.lane.numCtx }),
          endpoint: endpoint.name,
        });
        outcome.lane.answeredAt(sentAt);
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
      }
      const { failed: failure, lane: failedOn, sentAt } = outcome;
      // Not answering: that endpoint is down (the race marked it), the line goes to another or waits.
      if (failure.kind === 'unreachable') {
        attempt = 0;
        continue;
      }
      // A try that ran out of memory at limits since lowered does not count against the request.
      if (failure.code === 'out_of_memory' && failedOn.lowerAfterOutOfMemory(sentAt)) attempt--;
      if (
        failure.kind === 'transient' &&
        attempt >= this.options.maxAttempts &&
        !(await failedOn.endpoint.engine.ping().catch(() => false))
      ) {
        failedOn.endpoint.markDown(failure.message);
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
    }
  }

  /**
   * One try of a line on `lane`, which holds a slot for it. Once every line is sent, an idle
   * lane may race it (hedge): the first answer wins and the other try is aborted, so the line
   * has one answer. It fails only when every try has failed.
   */
  private race(
    lane: Lane,
    asked: BatchInputLine,
    conversation: Conversation | undefined,
  ): Promise<TryOutcome | { refused: EngineError }> {
    return new Promise((resolve) => {
      let settled = false;
      let running = 0;
      const aborts = new Set<AbortController>();
      const flight: Flight = {
        lane,
        startedAt: performance.now(),
        hedged: false,
        hedge: (spare) => {
          flight.hedged = true;
          spare.endpoint.hedged();
          start(spare, true);
        },
      };
      const settle = (outcome: TryOutcome | { refused: EngineError }): void => {
        settled = true;
        this.flights.delete(flight);
        for (const abort of aborts) abort.abort(new DOMException('another try answered first', 'AbortError'));
        resolve(outcome);
      };
      const start = (on: Lane, hedge: boolean): void => {
        // Measured at every try, on its lane: num_ctx may have been lowered since the last one.
        const prepared = this.prepare(asked, conversation, on);
        if ('refused' in prepared) {
          this.lanes.giveSlot(on);
          if (!hedge) settle(prepared);
          return;
        }
        running++;
        const attempt = this.attemptSignal();
        aborts.add(attempt.controller);
        const sentAt = on.version;
        const started = performance.now();
        chatChoices(on.endpoint.engine, prepared.chat, attempt.controller.signal)
          .then(
            (answered) => {
              if (settled) return;
              if (hedge) on.endpoint.wonHedge();
              settle({ answered, lane: on, prepared, latencyMs: performance.now() - started, sentAt });
            },
            (error: unknown) => {
              if (settled) return; // the other try answered: this one was aborted
              const failed =
                error instanceof EngineError ? error : new EngineError('transient', 'server_error', String(error));
              on.endpoint.failed();
              if (failed.kind === 'unreachable') on.endpoint.markDown(failed.message);
              if (running === 1) settle({ failed, lane: on, sentAt });
            },
          )
          .finally(() => {
            running--;
            aborts.delete(attempt.controller);
            attempt.done();
            this.lanes.giveSlot(on);
          });
      };
      this.flights.add(flight);
      start(lane, false);
    });
  }

  /**
   * Once every line is sent, lanes fall idle while others still answer the last lines: an idle
   * lane races a line whose answer it expects to give sooner than the line's own lane (a slow
   * endpoint, or one that stopped answering without an error). Checked again after the idle
   * lane's usual answer time, while lines are in flight.
   */
  private hedge(): void {
    if (!this.inputSent || this.serving.length < 2 || this.stopReason || this.paused || this.flights.size === 0) return;
    clearTimeout(this.hedgeTimer);
    const now = performance.now();
    // The line that looks furthest from its answer first.
    const remaining = (flight: Flight): number => {
      const elapsed = now - flight.startedAt;
      const usual = flight.lane.endpoint.meanLatencyMs();
      return usual !== null && elapsed < usual ? usual - elapsed : elapsed;
    };
    const waiting = [...this.flights].filter((flight) => !flight.hedged).sort((a, b) => remaining(b) - remaining(a));
    let recheckMs = Infinity;
    for (const flight of waiting) {
      const left = remaining(flight);
      const spare = this.lanes.takeSpareSlot(flight.lane, (lane) => {
        const usual = lane.endpoint.meanLatencyMs();
        if (usual !== null) recheckMs = Math.min(recheckMs, usual);
        return usual !== null && usual < left;
      });
      if (spare) flight.hedge(spare);
    }
    if (recheckMs !== Infinity && [...this.flights].some((flight) => !flight.hedged))
      this.hedgeTimer = setTimeout(() => this.hedge(), Math.max(recheckMs, 10));
  }

  /**
   * The engine request for a line: measured against num_ctx, trimmed if it is a conversation
   * that does not fit, refused if it still cannot; its answer capped to the room left.
   */
  private prepare(
    request: BatchInputLine,
    conversation: Conversation | undefined,
    lane: Lane,
  ): Prepared | { refused: EngineError } {
    const context = this.options.context;
    const { model, numCtx } = lane;
    if (!context || numCtx === undefined) return { chat: toChatRequest(request.body, numCtx, model) };
    const asked = conversation
      ? { ...request.body, messages: conversation.messagesFor(request.body.messages) }
      : request.body;
    const fitted = fitRequest(asked, {
      numCtx,
      strategy: lane.pressed ? 'aggressive' : context.strategy,
      counter: context.counter,
      calibration: context.calibration,
      ...(context.aggressiveFraction !== undefined && { aggressiveFraction: context.aggressiveFraction }),
      ...(context.allowCut && { allowCut: true }),
    });
    if (!fitted.fits) return { refused: new EngineError('permanent', 'context_length_exceeded', fitted.message, 400) };
    const body = { ...asked, messages: fitted.messages, max_tokens: fitted.maxTokens };
    delete body.max_completion_tokens;
    const prepared: Prepared = {
      chat: toChatRequest(body, numCtx, model),
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
    numCtx: number,
  ): RequestRecord['trim'] | undefined {
    const context = this.options.context!;
    const budget = Math.floor((numCtx - outputTokensOf(request.body)) / context.calibration.factor);
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
   * Aborts one try on stop, after the request timeout, or when another try of its line answered first (`controller`). A timer we clear ourselves, not
   * AbortSignal.timeout inside AbortSignal.any: such a combined signal can be collected
   * before it fires (nodejs/node#48951), leaving a request that never times out.
   */
  private attemptSignal(): { controller: AbortController; done(): void } {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException('the engine did not answer in time', 'TimeoutError')),
      this.options.requestTimeoutMs,
    );
    const onStop = (): void => controller.abort(this.stopper.signal.reason);
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    return {
      controller,
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

// The batch queue in process: a store in a temp dir, a fake engine that answers when the test
// lets it, and a clock the test drives. Batches run one at a time, oldest first; a cancel while
// validating or running ends the batch; a retry runs exactly the failed lines; every custom_id
// ends up once in the output or the error file; progress is saved on the clock's timer.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchQueue, type QueueEvents, type QueueSettings } from '../../server/batches/batch-queue.js';
import type { Clock } from '../../server/batches/clock.js';
import { FileRegistry } from '../../server/batches/file-registry.js';
import { ModelLearning } from '../../server/batches/model-learning.js';
import { EngineError, type ChatRequest, type ChatResult, type Engine } from '../../server/engines/engine.js';
import type { Batch } from '../../server/protocol/openai.js';
import { Store, type StoreData } from '../../server/store/store.js';
import { batchLines, requestLine, tempDir } from '../support/batch-files.js';
import { textOf } from '../../server/common/text-of.js';
import { EnginePool } from '../../server/pool/pool.js';

/** Answers requests while it has answers left to give (unlimited until held); refuses those it is told to. */
class FakeEngine extends EventEmitter<{ request: [ChatRequest] }> implements Engine {
  readonly name = 'ollama' as const;
  readonly requests: ChatRequest[] = [];
  /** Requests whose last message holds one of these fail for good, with a 400. */
  refuse = new Set<string>();
  private answersLeft = Infinity;
  private readonly waiting: Array<() => void> = [];

  /** Answers `count` more requests; the ones after wait until release(). */
  hold(count = 0): void {
    this.answersLeft = count;
  }

  /** Answers `count` more requests, those waiting first (default: all, from now on). */
  release(count = Infinity): void {
    this.answersLeft = count;
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** Resolves once `count` requests have come in. */
  async received(count: number): Promise<void> {
    while (this.requests.length < count) await once(this, 'request');
  }

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    this.requests.push(request);
    this.emit('request', request);
    const aborted = new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(new EngineError('transient', 'aborted', 'aborted')), {
        once: true,
      }),
    );
    while (this.answersLeft <= 0)
      await Promise.race([new Promise<void>((resolve) => this.waiting.push(resolve)), aborted]);
    this.answersLeft--;
    const text = textOf(request.messages.at(-1)?.content);
    if ([...this.refuse].some((refused) => text.includes(refused)))
      throw new EngineError('permanent', 'invalid_request', 'refused by the test', 400);
    return { content: 'ok', finishReason: 'stop', promptTokens: 10, completionTokens: 2, model: request.model };
  }
  /** The models the tests' batches ask for: validation checks them. */
  async listModels(): Promise<string[]> {
    return ['tiny', 'model-a', 'model-b', 'model-c'];
  }
  async slots(): Promise<undefined> {
    return undefined;
  }
  async modelFacts(): Promise<Record<string, never>> {
    return {};
  }
  async countPromptTokens(): Promise<number> {
    return 30;
  }
  async ping(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}

/** Time stands still until the test moves it; timers fire when the test says. */
class FakeClock implements Clock {
  seconds = Math.floor(Date.now() / 1000); // the runner expires batches by the real clock
  private timers: Array<{ callback: () => void; cancelled: boolean }> = [];

  now(): number {
    return this.seconds;
  }

  after(_ms: number, callback: () => void): () => void {
    const timer = { callback, cancelled: false };
    this.timers.push(timer);
    return () => void (timer.cancelled = true);
  }

  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      this.after(ms, resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** Fires every timer set so far and not cancelled. */
  fire(): number {
    const due = this.timers.filter((timer) => !timer.cancelled);
    this.timers = [];
    for (const timer of due) timer.callback();
    return due.length;
  }
}

interface Harness {
  store: Store;
  engine: FakeEngine;
  clock: FakeClock;
  files: FileRegistry;
  events: EventEmitter<QueueEvents>;
  queue: BatchQueue;
  /** Every save the queue asked for, to await the one a timer started. */
  saves: Promise<void>[];
  dataDir: string;
}

const open: Harness[] = [];

async function harness(settings: QueueSettings = {}): Promise<Harness> {
  const dataDir = tempDir();
  const store = await Store.open(dataDir);
  const saves: Promise<void>[] = [];
  const save = store.save.bind(store);
  store.save = () => {
    const saving = save();
    saves.push(saving);
    return saving;
  };
  const engine = new FakeEngine();
  const clock = new FakeClock();
  const files = new FileRegistry(store, clock);
  const events = new EventEmitter<QueueEvents>();
  const queue = new BatchQueue({
    store,
    pool: EnginePool.of(engine, settings.modelAliases),
    files,
    learning: new ModelLearning(store, clock),
    events,
    clock,
    settings,
  });
  const made = { store, engine, clock, files, events, queue, saves, dataDir };
  open.push(made);
  queue.start();
  return made;
}

/** A batch of `count` lines, ids `<prefix>-1` up, for model `model`. */
async function submit(h: Harness, count: number, prefix: string, model = 'tiny', options = {}): Promise<Batch> {
  const path = join(tempDir(), `${prefix}.jsonl`);
  writeFileSync(path, batchLines(count, { model, prefix }));
  const file = await h.files.register({ path });
  return h.queue.create({ input_file_id: file.id, options });
}

/** The batch once `done` holds for it (at once if it already does). */
async function until(h: Harness, id: string, done: (batch: Batch) => boolean): Promise<Batch> {
  const current = h.queue.entry(id).batch;
  if (done(current)) return structuredClone(current);
  return new Promise((resolve) => {
    const listener = (batch: Batch): void => {
      if (batch.id !== id || !done(batch)) return;
      h.events.off('changed', listener);
      resolve(batch);
    };
    h.events.on('changed', listener);
  });
}

const ended = (batch: Batch): boolean => ['completed', 'failed', 'cancelled', 'expired'].includes(batch.status);

/** The custom_ids in a journal file, in order. */
function idsIn(h: Harness, fileId: string | null): string[] {
  if (fileId === null) return []; // no line went there
  const text = readFileSync(h.files.get(fileId).path, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { custom_id: string }).custom_id);
}

/** Every request of the batch is in its output or its error file, once; returns the error file's ids. */
function assertEachOnce(h: Harness, batch: Batch, ids: string[]): { output: string[]; errors: string[] } {
  const output = idsIn(h, batch.output_file_id);
  const errors = idsIn(h, batch.error_file_id);
  assert.deepEqual(
    [...output, ...errors].sort(),
    [...ids].sort(),
    'every custom_id once in the output or the error file',
  );
  return { output, errors };
}

/** The text of the last message of input line `index`. */
const requestText = (index: number): string =>
  (requestLine(index, { model: 'tiny' }).body as { messages: Array<{ content: string }> }).messages.at(-1)!.content;

const ids = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index + 1}`);

describe('the batch queue', () => {
  afterEach(async () => {
    for (const h of open.splice(0)) {
      h.engine.release();
      await h.queue.close();
    }
  });

  it('runs batches one at a time, oldest first, each request once', async () => {
    const h = await harness();
    h.engine.hold();
    const first = await submit(h, 6, 'a', 'model-a');
    await h.engine.received(1); // the first batch is running and holds the engine
    const second = await submit(h, 5, 'b', 'model-b');
    const third = await submit(h, 4, 'c', 'model-c');
    await until(h, second.id, (batch) => batch.status === 'in_progress');
    await until(h, third.id, (batch) => batch.status === 'in_progress');
    assert.deepEqual(
      new Set(h.engine.requests.map((request) => request.model)),
      new Set(['model-a']),
      'the later batches wait',
    );
    h.engine.release();
    const done = await Promise.all([first, second, third].map((batch) => until(h, batch.id, ended)));
    assert.deepEqual(
      done.map((batch) => batch.status),
      ['completed', 'completed', 'completed'],
    );
    const models = h.engine.requests.map((request) => request.model);
    const order = models.filter((model, index) => model !== models[index - 1]);
    assert.deepEqual(order, ['model-a', 'model-b', 'model-c'], 'no batch starts before the one before it ends');
    assertEachOnce(h, done[0]!, ids('a', 6));
    assertEachOnce(h, done[1]!, ids('b', 5));
    assertEachOnce(h, done[2]!, ids('c', 4));
  });

  it('cancels a batch while it is validating: nothing runs, no output files', async () => {
    const h = await harness();
    const batch = await submit(h, 50, 'v');
    assert.equal(h.queue.entry(batch.id).batch.status, 'validating');
    assert.match((await h.queue.cancel(batch.id)).status, /^cancell(ing|ed)$/);
    const cancelled = await until(h, batch.id, ended);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.cancelled_at, h.clock.seconds);
    assert.equal(cancelled.output_file_id, null);
    assert.equal(h.engine.requests.length, 0);
  });

  it('cancels a running batch: answered lines stay, the rest get batch_cancelled, each once', async () => {
    const h = await harness({ concurrency: 2 });
    h.engine.hold();
    const batch = await submit(h, 20, 'r');
    await h.engine.received(1);
    await h.queue.cancel(batch.id);
    const cancelled = await until(h, batch.id, ended);
    assert.equal(cancelled.status, 'cancelled');
    const { output, errors } = assertEachOnce(h, cancelled, ids('r', 20));
    assert.equal(output.length, 0);
    const codes = readFileSync(h.files.get(cancelled.error_file_id!).path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { error: { code: string } }).error.code);
    assert.deepEqual(new Set(codes), new Set(['batch_cancelled']));
    assert.equal(errors.length, 20);
    assert.equal(cancelled.request_counts.failed, 20);
  });

  it('pauses at a failed pilot check with lines in flight; resumed then, it sends every line once', async () => {
    const h = await harness({ concurrency: 4, pilotAnswers: 2 });
    h.engine.hold();
    const path = join(tempDir(), 'p.jsonl');
    // The fake engine answers "ok": not the JSON the schema asks for.
    writeFileSync(path, batchLines(20, { model: 'tiny', prefix: 'p', schema: { type: 'object' } }));
    const file = await h.files.register({ path });
    const batch = await h.queue.create({ input_file_id: file.id });
    await h.engine.received(4);
    h.engine.release(2); // the pilot's two answers; the other requests stay in flight
    const paused = await until(h, batch.id, (each) => each.paused_reason !== null);
    assert.match(
      paused.paused_reason!,
      /^pilot check: 2 of 2 answers break their schema \(2 not JSON; at most 20% may\)/,
    );
    const sent = h.engine.requests.length;
    assert.ok(sent >= 4 && sent <= 6, `${sent} sent by the pause`);
    await h.queue.resume(batch.id);
    h.engine.release();
    const done = await until(h, batch.id, ended);
    assert.equal(done.status, 'completed');
    assert.equal(assertEachOnce(h, done, ids('p', 20)).output.length, 20);
    // No line in flight at the pause was sent again after the resume.
    assert.deepEqual(
      h.engine.requests.map((request) => textOf(request.messages.at(-1)?.content)).sort(),
      Array.from({ length: 20 }, (_, index) => requestText(index + 1)).sort(),
    );
    assert.equal(h.store.batch(batch.id)!.pilot, 'overridden');
  });

  it('cancels a queued batch at once, while another runs: batch_cancelled lines, no request sent', async () => {
    const h = await harness();
    h.engine.hold();
    const running = await submit(h, 6, 'a', 'model-a');
    await h.engine.received(1); // the first batch runs and holds the engine: it ends only when released
    const queued = await submit(h, 5, 'q', 'model-b');
    await until(h, queued.id, (batch) => batch.status === 'in_progress');
    const cancelled = until(h, queued.id, ended);
    await h.queue.cancel(queued.id);
    assert.equal((await cancelled).status, 'cancelled');
    assert.equal(h.queue.entry(running.id).batch.status, 'in_progress', 'the running batch goes on');
    assert.deepEqual(assertEachOnce(h, await cancelled, ids('q', 5)).errors.sort(), ids('q', 5).sort());
    assert.equal((await cancelled).request_counts.failed, 5);
    assert.ok(
      h.engine.requests.every((request) => request.model === 'model-a'),
      'nothing of the cancelled batch reached the engine',
    );
    h.engine.release();
    assert.equal((await until(h, running.id, ended)).status, 'completed');
  });

  it('retries exactly the failed lines of an ended batch, as a new batch that remembers it', async () => {
    const h = await harness();
    h.engine.refuse = new Set(['Text number 3:', 'Text number 7:']);
    const batch = await submit(h, 10, 't', 'tiny', { concurrency: 3 });
    const first = await until(h, batch.id, ended);
    assert.equal(first.status, 'completed');
    assert.deepEqual(assertEachOnce(h, first, ids('t', 10)).errors.sort(), ['t-3', 't-7']);
    await assert.rejects(h.queue.retry((await submit(h, 1, 'x')).id), /retry it once it has ended/);

    h.engine.refuse.clear();
    const retry = await h.queue.retry(batch.id);
    assert.equal(retry.metadata?.retry_of, batch.id);
    assert.equal(h.queue.entry(retry.id).options.concurrency, 3, 'with the same run options');
    assert.deepEqual(idsIn(h, retry.input_file_id), ['t-3', 't-7']);
    const second = await until(h, retry.id, ended);
    assert.equal(second.status, 'completed');
    assert.deepEqual(assertEachOnce(h, second, ['t-3', 't-7']).errors, []);
    await assert.rejects(h.queue.retry(retry.id), /no failed lines to retry/);
  });

  it("saves and announces progress on the clock's timers, not at every answer", async () => {
    const h = await harness({ concurrency: 1 });
    h.engine.hold(3);
    const batch = await submit(h, 10, 'p');
    await h.engine.received(4);
    // Three answered (concurrency 1: the fourth was sent after the third was recorded), none saved yet.
    const onDisk = (): StoreData => JSON.parse(readFileSync(join(h.dataDir, 'db.json'), 'utf8')) as StoreData;
    const saved = (): number =>
      onDisk().batches.find((entry) => entry.batch.id === batch.id)!.batch.request_counts.completed;
    await Promise.all(h.saves);
    assert.equal(saved(), 0);
    const announced = once(h.events, 'changed') as Promise<[Batch]>;
    const savesBefore = h.saves.length;
    assert.equal(h.clock.fire(), 2, 'one save and one announcement waiting');
    const [progress] = await announced;
    assert.equal(progress.request_counts.completed, 3);
    assert.equal(h.saves.length, savesBefore + 1);
    await h.saves.at(-1);
    assert.equal(saved(), 3);
    assert.ok(onDisk().batches.find((entry) => entry.batch.id === batch.id)!.metrics, 'with the metrics so far');
    h.engine.release();
    assertEachOnce(h, await until(h, batch.id, ended), ids('p', 10));
  });
  it('ends a batch with no output file where no line was answered, no error file where none failed, as OpenAI', async () => {
    const h = await harness();
    const allAnswered = await until(h, (await submit(h, 4, 'ok')).id, ended);
    assert.equal(allAnswered.error_file_id, null);
    assert.equal(assertEachOnce(h, allAnswered, ids('ok', 4)).output.length, 4);
    h.engine.refuse = new Set(['Text number']);
    const noneAnswered = await until(h, (await submit(h, 4, 'no')).id, ended);
    assert.equal(noneAnswered.status, 'completed');
    assert.equal(noneAnswered.output_file_id, null);
    assert.equal(assertEachOnce(h, noneAnswered, ids('no', 4)).errors.length, 4);
    const kept = h.store.data.files.map((file) => file.id);
    assert.ok(kept.includes(allAnswered.output_file_id!) && kept.includes(noneAnswered.error_file_id!));
    assert.equal(kept.length, 4, 'two inputs, one output, one error file: no empty ones');
  });
});

// One batch over a pool of engines: Ollama emulators (the real wire protocol, driven by the real
// ollama client) behind the batch service. Lines go to whichever endpoint has a free slot; an
// endpoint that stops answering is taken out, its lines answered elsewhere, and taken back when
// it answers; the last lines of a slow or hung endpoint are raced on an idle one. Every line is
// written exactly once.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { BatchService } from '../../server/batches/service.js';
import { OllamaEngine } from '../../server/engines/ollama.js';
import type { BatchOutputLine } from '../../server/openai/types.js';
import { Endpoint } from '../../server/pool/endpoint.js';
import { EnginePool } from '../../server/pool/pool.js';
import type { Batch } from '../../server/protocol/openai.js';
import { TERMINAL_STATUSES } from '../../server/protocol/openai.js';
import { Store } from '../../server/store/store.js';
import { batchLines, tempDir, writeTempFile } from '../support/batch-files.js';
import { startOllamaEmulator, type EmulatorOptions, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertExactlyOnce, assertSuccessLine } from '../support/shapes.js';

const SLOTS = 2;

describe('a pool of engines', function () {
  this.timeout(300_000);
  const emulators: RunningEmulator[] = [];
  let service: BatchService | undefined;
  let pool: EnginePool | undefined;

  afterEach(async () => {
    await service?.close();
    await pool?.close();
    await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
    service = pool = undefined;
  });

  async function emulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
    const started = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: SLOTS, ...options });
    emulators.push(started);
    return started;
  }

  /** A started service over endpoints `a`, `b`, ... at these emulators, SLOTS requests each. */
  async function servicePooling(...at: RunningEmulator[]): Promise<BatchService> {
    pool = new EnginePool(
      at.map(
        (emulator, index) =>
          new Endpoint({
            name: String.fromCharCode(97 + index),
            engine: new OllamaEngine({ url: emulator.url }),
            url: emulator.url,
            concurrency: SLOTS,
          }),
      ),
    );
    service = new BatchService(await Store.open(tempDir()), pool, { pilotAnswers: 0 });
    await service.start();
    return service;
  }

  async function submit(lines: number): Promise<string> {
    const file = await service!.registerFile({
      path: writeTempFile('input.jsonl', batchLines(lines, { model: 'tiny' })),
    });
    return (await service!.createBatch({ input_file_id: file.id })).id;
  }

  /** Waits for the batch's end; every line once, every one answered. Also the pause reasons it went through. */
  async function finished(id: string, lines: number, pauses: Array<string | null> = []): Promise<BatchOutputLine[]> {
    let batch: Batch = service!.getBatch(id);
    while (!TERMINAL_STATUSES.includes(batch.status)) {
      await once(service!, 'changed');
      batch = service!.getBatch(id);
      if ((pauses.at(-1) ?? null) !== batch.paused_reason) pauses.push(batch.paused_reason);
    }
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    const ids = Array.from({ length: lines }, (_, index) => `req-${index + 1}`);
    const { output, errors } = assertExactlyOnce(
      ids,
      batch.output_file_id && service!.getFile(batch.output_file_id).path,
      batch.error_file_id && service!.getFile(batch.error_file_id).path,
      batch,
    );
    assert.deepEqual(errors, []);
    output.forEach(assertSuccessLine);
    return output;
  }

  const answeredBy = (output: BatchOutputLine[], endpoint: string): number =>
    output.filter((line) => line.ollama_batch?.endpoint === endpoint).length;

  it('spreads one batch over every endpoint, the faster one taking more lines as its slots free sooner', async () => {
    const fast = await emulator({ latencyMs: 20 });
    const slow = await emulator({ latencyMs: 100 });
    await servicePooling(fast, slow);
    const output = await finished(await submit(120), 120);
    const [onFast, onSlow] = [answeredBy(output, 'a'), answeredBy(output, 'b')];
    assert.equal(onFast + onSlow, 120, 'each line names the endpoint that answered it');
    assert.ok(onSlow > 0, 'the slow endpoint took lines too');
    // Five times the speed: about five times the lines (the tail's hedges go to the fast one too).
    assert.ok(onFast > 2 * onSlow, `the fast endpoint answered ${onFast}, the slow one ${onSlow}`);
    const [a, b] = pool!.statuses();
    assert.equal(a!.answered, onFast);
    assert.equal(b!.answered, onSlow);
    assert.ok(a!.up && b!.up);
  });

  it('takes out an endpoint that stops mid-line: its lines are answered by the other, none lost or written twice, and it is taken back when it answers', async () => {
    const steady = await emulator({ latencyMs: 20 });
    // So slow that its slots are always busy: stopped, it cuts lines in flight.
    const failing = await emulator({ latencyMs: 5000 });
    await servicePooling(steady, failing);
    const changes: boolean[] = [];
    const wentDown = new Promise<void>((resolve) =>
      pool!.endpoints[1]!.onChange((up) => {
        changes.push(up);
        if (!up) resolve();
      }),
    );
    const id = await submit(200);
    const pauses: Array<string | null> = [];
    const done = finished(id, 200, pauses);
    await once(service!, 'answered');
    assert.equal(failing.stats.running, SLOTS, 'a line per slot was in flight on it');
    await failing.close();
    await wentDown;
    const back = await emulator({ latencyMs: 20, port: failing.port });
    const output = await done;
    assert.deepEqual(changes, [false, true], 'it went down, then came back');
    assert.equal(failing.stats.aborted, SLOTS, 'its lines in flight were cut');
    assert.ok(back.stats.completed > 0, 'back, it answered lines again');
    assert.equal(answeredBy(output, 'a') + answeredBy(output, 'b'), 200);
    assert.deepEqual(pauses, [], 'the batch never paused: one endpoint was up');
    assert.equal(pool!.statuses()[1]!.up, true);
  });

  it('pauses only while every endpoint is down, and goes on when one is back', async () => {
    const first = await emulator({ latencyMs: 20 });
    const second = await emulator({ latencyMs: 20 });
    await servicePooling(first, second);
    const id = await submit(120);
    const pauses: Array<string | null> = [];
    const done = finished(id, 120, pauses);
    await once(service!, 'answered');
    await Promise.all([first.close(), second.close()]);
    // Both down: the batch says why and waits.
    while (!service!.getBatch(id).paused_reason) await once(service!, 'changed');
    assert.match(service!.getBatch(id).paused_reason!, /^engine unreachable: a: .*; b: /);
    await emulator({ latencyMs: 20, port: second.port });
    await done;
    assert.equal(pauses.at(-1), null, 'it went on once an endpoint was back');
  });

  it('races the last lines of a hung endpoint on an idle one once every line is sent: the first answer is written, once, and the other try is cut', async () => {
    const fast = await emulator({ latencyMs: 10 });
    // Takes its lines and answers none while the test runs (as a stuck server).
    const hung = await emulator({ latencyMs: 3_600_000 });
    await servicePooling(fast, hung);
    const output = await finished(await submit(40), 40);
    assert.equal(answeredBy(output, 'a'), 40, 'every line was answered by the endpoint that answers');
    const [a, b] = pool!.statuses();
    assert.equal(a!.hedged, SLOTS, 'the hung endpoint held a line per slot, each raced once');
    assert.equal(a!.hedgesWon, SLOTS);
    assert.equal(b!.answered, 0);
    // The losing tries were aborted: the hung server sees its clients go (it tells no event of it).
    while (hung.stats.aborted < SLOTS) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(hung.stats.aborted, SLOTS);
  });
});

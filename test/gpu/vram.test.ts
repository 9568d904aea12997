// nvidia-smi and VramMonitor against a fake nvidia-smi (a shell script that checks it was asked
// the documented query and prints what the test wrote for it), and Ollama's /api/ps from the
// emulator through OllamaEngine and the real `ollama` client.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ollama } from 'ollama';
import { OllamaEngine } from '../../server/engines/ollama.js';
import { parseNvidiaSmiCsv, queryNvidiaSmi } from '../../server/gpu/nvidia-smi.js';
import { VramMonitor } from '../../server/gpu/vram-monitor.js';
import { EndpointMemory } from '../../server/daemon/endpoint-memory.js';
import { Endpoint } from '../../server/pool/endpoint.js';
import { EnginePool } from '../../server/pool/pool.js';
import type { VramPressure } from '../../server/gpu/vram-monitor.js';
import { never } from '../support/engine-assertions.js';
import { FakeNvidiaSmi, QUERY } from '../support/fake-nvidia-smi.js';
import { startOllamaEmulator } from '../support/ollama-emulator/server.js';
import type { RunningEmulator } from '../support/ollama-emulator/server.js';

const DRIVER_FAILURE = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.";

/** An emulator with gemma3:12b loaded at num_ctx 4096; `vramBytes` below its size makes it spill. */
async function loadedEmulator(vramBytes?: number): Promise<{ emulator: RunningEmulator; engine: OllamaEngine }> {
  const emulator = await startOllamaEmulator({
    instant: true,
    models: ['gemma3:12b'],
    ...(vramBytes === undefined ? {} : { vramBytes }),
  });
  const engine = new OllamaEngine({ url: emulator.url });
  await engine.chat(
    { model: 'gemma3:12b', messages: [{ role: 'user', content: 'x' }], maxTokens: 2, numCtx: 4096 },
    never(),
  );
  return { emulator, engine };
}

describe('nvidia-smi', function () {
  let fake: FakeNvidiaSmi;
  beforeEach(async function () {
    fake = await FakeNvidiaSmi.create();
  });
  afterEach(async function () {
    await fake.remove();
  });

  it('asks the documented query and reads one line per GPU', async function () {
    await fake.print('0, NVIDIA GeForce RTX 4080, 12000, 16376, 87\n1, NVIDIA A100-SXM4-80GB, 1024, 81920, [N/A]\n');
    assert.deepEqual(await queryNvidiaSmi(fake.path), {
      status: 'ok',
      gpus: [
        { index: 0, name: 'NVIDIA GeForce RTX 4080', usedMiB: 12_000, totalMiB: 16_376, utilizationPercent: 87 },
        { index: 1, name: 'NVIDIA A100-SXM4-80GB', usedMiB: 1_024, totalMiB: 81_920, utilizationPercent: null },
      ],
    });
    assert.deepEqual(await fake.calls(), [QUERY]);
  });

  it('finds nvidia-smi on PATH by default', async function () {
    const path = process.env.PATH;
    process.env.PATH = `${fake.dir}${delimiter}${path ?? ''}`;
    try {
      const result = await queryNvidiaSmi();
      assert.equal(result.status, 'ok');
      const snapshot = await new VramMonitor().pollNow();
      assert.equal(snapshot.status, 'ok');
      assert.equal(snapshot.gpus?.length, 2);
    } finally {
      process.env.PATH = path;
    }
    assert.equal((await fake.calls()).length, 2);
  });

  it('answers not-available for a missing command, without throwing', async function () {
    assert.deepEqual(await queryNvidiaSmi(join(fake.dir, 'no-such-nvidia-smi')), { status: 'not-available' });
  });

  it('answers an error for a failing call, garbage or a timeout, without throwing', async function () {
    await fake.print(`${DRIVER_FAILURE}\nMake sure that the latest NVIDIA driver is installed and running.\n`, 9);
    assert.deepEqual(await queryNvidiaSmi(fake.path), {
      status: 'error',
      error: `${fake.path} exited with code 9: ${DRIVER_FAILURE}`,
    });

    await fake.print('<html>not a csv</html>\n');
    assert.deepEqual(await queryNvidiaSmi(fake.path), {
      status: 'error',
      error: 'unexpected nvidia-smi output: "<html>not a csv</html>"',
    });

    await fake.print('');
    assert.deepEqual(await queryNvidiaSmi(fake.path), { status: 'error', error: 'nvidia-smi listed no GPUs' });

    await fake.delay(10);
    assert.deepEqual(await queryNvidiaSmi(fake.path, 200), {
      status: 'error',
      error: `${fake.path} did not answer within 0.2 s`,
    });
  });

  it('parses names with commas, [Not Supported] fields and CRLF, and refuses non-numbers', function () {
    assert.deepEqual(parseNvidiaSmiCsv('3, Tesla K80, rev 2, [Not Supported], 11441, [N/A]\r\n'), [
      { index: 3, name: 'Tesla K80, rev 2', usedMiB: null, totalMiB: 11_441, utilizationPercent: null },
    ]);
    assert.throws(() => parseNvidiaSmiCsv('0, GPU, 12 MiB, 100, 5'), /unexpected nvidia-smi output/);
    assert.throws(() => parseNvidiaSmiCsv('x, GPU, 1, 100, 5'), /unexpected nvidia-smi output/);
    assert.throws(() => parseNvidiaSmiCsv('0, GPU, 1, 100'), /unexpected nvidia-smi output/);
  });
});

describe('VramMonitor', function () {
  let fake: FakeNvidiaSmi;
  beforeEach(async function () {
    fake = await FakeNvidiaSmi.create();
  });
  afterEach(async function () {
    await fake.remove();
  });

  it('moves pressure from normal to warning to critical and back as readings change', async function () {
    const monitor = new VramMonitor({ nvidiaSmiPath: fake.path });
    const changes: VramPressure[] = [];
    monitor.on('pressure', (pressure, snapshot) => {
      assert.equal(snapshot.pressure, pressure);
      changes.push(pressure);
    });
    let snapshots = 0;
    monitor.on('snapshot', () => snapshots++);

    await fake.show([
      [8_000, 16_000],
      [1_000, 80_000],
    ]);
    let snapshot = await monitor.pollNow();
    assert.equal(snapshot.status, 'ok');
    assert.equal(snapshot.usedShare, 0.5);
    assert.equal(snapshot.pressure, 'normal');
    assert.deepEqual(snapshot.warnings, []);
    assert.deepEqual(changes, [], 'no change from the initial normal');

    await fake.show([
      [14_720, 16_000],
      [1_000, 80_000],
    ]);
    snapshot = await monitor.pollNow();
    assert.equal(snapshot.usedShare, 0.92);
    assert.equal(snapshot.pressure, 'warning');
    assert.deepEqual(snapshot.warnings, ['GPU 0 (NVIDIA GeForce RTX 4080): 92% of VRAM in use (14.4 of 15.6 GiB)']);

    // The fullest GPU counts, whichever it is.
    await fake.show([
      [8_000, 16_000],
      [78_400, 80_000],
    ]);
    snapshot = await monitor.pollNow();
    assert.equal(snapshot.usedShare, 0.98);
    assert.equal(snapshot.pressure, 'critical');
    assert.deepEqual(snapshot.warnings, [
      'GPU 1 (NVIDIA A100-SXM4-80GB): 98% of VRAM in use (76.6 of 78.1 GiB); close to out of memory',
    ]);
    assert.equal(snapshot.peakUsedMiB, 78_400);

    await fake.show([
      [2_000, 16_000],
      [2_000, 80_000],
    ]);
    snapshot = await monitor.pollNow();
    assert.equal(snapshot.pressure, 'normal');
    assert.equal(snapshot.peakUsedMiB, 78_400, 'the peak stays');
    assert.deepEqual(changes, ['warning', 'critical', 'normal']);
    assert.equal(snapshots, 4);
    assert.equal(monitor.snapshot(), snapshot);
  });

  it('honours its own thresholds', async function () {
    const monitor = new VramMonitor({ nvidiaSmiPath: fake.path, warningShare: 0.5, criticalShare: 0.6 });
    await fake.show([[8_000, 16_000]]);
    assert.equal((await monitor.pollNow()).pressure, 'warning');
    await fake.show([[9_600, 16_000]]);
    assert.equal((await monitor.pollNow()).pressure, 'critical');
    assert.throws(() => new VramMonitor({ warningShare: 0.9, criticalShare: 0.8 }), RangeError);
  });

  it('reports a failing nvidia-smi call and tries again on the next poll', async function () {
    const monitor = new VramMonitor({ nvidiaSmiPath: fake.path });
    await fake.show([[15_800, 16_000]]);
    assert.equal((await monitor.pollNow()).pressure, 'critical');

    await fake.print(`${DRIVER_FAILURE}\n`, 1);
    let snapshot = await monitor.pollNow();
    assert.equal(snapshot.status, 'error');
    assert.equal(snapshot.error, `${fake.path} exited with code 1: ${DRIVER_FAILURE}`);
    assert.equal(snapshot.gpus, null);
    assert.equal(snapshot.usedShare, null);
    assert.equal(snapshot.pressure, 'critical', 'no reading: the pressure stays as last seen');

    await fake.print('garbage\n');
    assert.equal((await monitor.pollNow()).status, 'error');

    await fake.show([[1_000, 16_000]]);
    snapshot = await monitor.pollNow();
    assert.equal(snapshot.status, 'ok');
    assert.equal(snapshot.error, undefined);
    assert.equal(snapshot.pressure, 'normal');
    assert.equal((await fake.calls()).length, 4, 'every poll asked again');
  });

  it('stops asking a missing nvidia-smi but keeps reading /api/ps', async function () {
    // All of the model in system RAM and no GPU seen: a CPU-only Ollama, not a spill.
    const { emulator, engine } = await loadedEmulator(0);
    try {
      const later = join(fake.dir, 'installed-later');
      const monitor = new VramMonitor({ nvidiaSmiPath: later, source: engine });
      let snapshot = await monitor.pollNow();
      assert.equal(snapshot.status, 'not-available');
      assert.equal(snapshot.gpus, null);
      assert.equal(snapshot.error, undefined);
      assert.equal(snapshot.models[0]?.name, 'gemma3:12b');
      assert.equal(snapshot.models[0]?.spilledShare, 1);
      assert.deepEqual(snapshot.warnings, []);

      const requests = emulator.stats.requests;
      await fake.install(later);
      snapshot = await monitor.pollNow();
      assert.equal(snapshot.status, 'not-available');
      assert.deepEqual(await fake.calls(), [], 'not run again once found missing');
      assert.equal(snapshot.models.length, 1);
      assert.equal(emulator.stats.requests, requests + 1, '/api/ps asked again');
    } finally {
      await emulator.close();
    }
  });

  it('lists the models Ollama holds and warns about one that spilled from VRAM', async function () {
    const emulators = { spilled: await loadedEmulator(18_000_000), whole: await loadedEmulator() };
    try {
      const [raw] = (await new Ollama({ host: emulators.spilled.emulator.url }).ps()).models;
      assert.ok(raw && raw.size_vram === 18_000_000 && raw.size_vram < raw.size, 'the emulator reports a spill');
      const share = (raw.size - raw.size_vram) / raw.size;

      const spilled = await new VramMonitor({ nvidiaSmiPath: fake.path, source: emulators.spilled.engine }).pollNow();
      assert.deepEqual(spilled.models, [
        {
          name: 'gemma3:12b',
          sizeBytes: raw.size,
          vramBytes: 18_000_000,
          contextLength: 4096,
          spilled: true,
          spilledShare: share,
        },
      ]);
      assert.deepEqual(spilled.warnings, [
        `gemma3:12b: ${Math.round(share * 100)}% of the model is in system RAM (spilled from VRAM); it will run several times slower`,
      ]);

      const whole = await new VramMonitor({ nvidiaSmiPath: fake.path, source: emulators.whole.engine }).pollNow();
      assert.equal(whole.models[0]?.spilled, false);
      assert.equal(whole.models[0]?.spilledShare, 0);
      assert.deepEqual(whole.warnings, []);
    } finally {
      await emulators.spilled.emulator.close();
      await emulators.whole.emulator.close();
    }
  });

  it('reports an Ollama that does not answer, without throwing', async function () {
    const { emulator, engine } = await loadedEmulator();
    await emulator.close();
    const snapshot = await new VramMonitor({ nvidiaSmiPath: fake.path, source: engine }).pollNow();
    assert.equal(snapshot.status, 'ok');
    assert.deepEqual(snapshot.models, []);
    assert.equal(typeof snapshot.modelsError, 'string');
  });

  it('polls on its interval until stopped, and stop waits for the poll in flight', async function () {
    const monitor = new VramMonitor({ nvidiaSmiPath: fake.path, intervalMs: 10 });
    monitor.start();
    monitor.start();
    for (let i = 0; i < 3; i++) await once(monitor, 'snapshot');
    await monitor.stop();
    const calls = (await fake.calls()).length;
    assert.ok(calls >= 3);
    await sleep(100);
    assert.equal((await fake.calls()).length, calls, 'no poll after stop');

    await fake.delay(0.2);
    const slow = new VramMonitor({ nvidiaSmiPath: fake.path });
    slow.start();
    await slow.stop();
    assert.equal(slow.snapshot()?.status, 'error', 'the poll in flight ended before stop resolved');
  });

  it('keeps polling when a listener throws', async function () {
    const monitor = new VramMonitor({ nvidiaSmiPath: fake.path, intervalMs: 10 });
    let polls = 0;
    const thirdPoll = new Promise<void>((resolve) => {
      monitor.on('snapshot', () => {
        if (++polls === 3) resolve();
        throw new Error('a listener bug');
      });
    });
    await assert.rejects(monitor.pollNow(), /a listener bug/);
    monitor.start();
    await thirdPoll;
    await monitor.stop();
  });
});

describe("a pool's endpoints' memory", function () {
  this.timeout(60_000);

  it("reads an Ollama on another host through its own /api/ps (no GPU of this machine), and keeps this machine's reading for the endpoints on it", async () => {
    const remote = await loadedEmulator(1000);
    const here = await loadedEmulator();
    // The endpoint's URL says where it runs; its engine reaches the emulator either way.
    const pool = new EnginePool([
      new Endpoint({ name: 'here', engine: here.engine, url: here.emulator.url }),
      new Endpoint({ name: 'there', engine: remote.engine, url: 'http://gpu-box:11434' }),
    ]);
    const local = new VramMonitor({ nvidiaSmiPath: join('/nonexistent', 'nvidia-smi'), source: here.engine });
    const logged: string[] = [];
    let warn!: () => void;
    const warned = new Promise<void>((resolve) => (warn = resolve));
    const memory = new EndpointMemory(
      pool,
      local,
      (_level, message) => {
        logged.push(message);
        warn();
      },
      50,
    );
    memory.start();
    await local.pollNow();
    await warned;
    const [onHere, onThere] = pool.statuses();
    assert.equal(onHere!.memoryWarnings, undefined, 'nothing spilled on this machine');
    assert.match(onThere!.memoryWarnings?.[0] ?? '', /^gemma3:12b(:latest)?: .*% of the model is in system RAM/);
    assert.match(logged[0]!, /^endpoint there: gemma3:12b/);
    await memory.stop();
    await Promise.all([remote.emulator.close(), here.emulator.close()]);
  });
});

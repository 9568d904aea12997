// One configuration, remembered and shown: the flags `run` and `serve` are given live on in the
// data dir's config.json, a daemon restarted after kill -9 runs with them, `config` shows every
// value and its source, and `run`'s batch settings apply to its batch.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { batchLines, tempDir, writeTempFile } from '../support/batch-files.js';
import { cli } from '../support/cli-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

const lockOf = (dataDir: string): { pid: number } =>
  JSON.parse(readFileSync(join(dataDir, 'daemon.lock'), 'utf8')) as { pid: number };

/** kill -9 of the data dir's daemon; resolves once its process is gone (no event tells that: polled). */
async function killDaemon(dataDir: string): Promise<void> {
  const { pid } = lockOf(dataDir);
  process.kill(pid, 'SIGKILL');
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  throw new Error(`pid ${pid} outlived SIGKILL`);
}

describe('one configuration, remembered and shown', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  const stops: string[] = [];
  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 2 });
  });
  after(async () => {
    for (const dataDir of stops) await cli(['stop', '--data-dir', dataDir]);
    await emulator.close();
  });

  function freshDataDir(): string {
    const dataDir = join(tempDir(), 'data');
    mkdirSync(dataDir);
    stops.push(dataDir);
    return dataDir;
  }

  it('restarts a daemon killed -9 with the engine flags it was started with, not the defaults', async () => {
    const dataDir = freshDataDir();
    const input = writeTempFile('input.jsonl', batchLines(5, { model: 'tiny' }));
    const first = await cli([
      'run',
      input,
      '--data-dir',
      dataDir,
      '--ollama-url',
      emulator.url,
      '--port',
      '0',
      '--json',
    ]);
    assert.equal(first.code, 0, first.stderr);
    await killDaemon(dataDir);
    // No flags: the daemon this starts reads config.json. Before, it went to 127.0.0.1:11434 and
    // the batch paused as "engine unreachable".
    const again = await cli(['run', input, '--data-dir', dataDir, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).batch.request_counts.completed, 5);
    const status = JSON.parse((await cli(['status', '--data-dir', dataDir, '--json'])).stdout);
    assert.equal(status.daemon.engine.url, emulator.url);
    assert.deepEqual(status.daemon.config.ollamaUrl, { value: emulator.url, source: 'config.json' });
  });

  it('shows every setting with its value and source, and sets and unsets one', async () => {
    const dataDir = freshDataDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ port: 0, engine: 'ollama' }));
    const shown = await cli(['config', '--data-dir', dataDir, '--json'], {
      env: { ...process.env, OLLAMA_HOST: 'gpu-box:11434' },
    });
    assert.equal(shown.code, 0, shown.stderr);
    const { settings, path } = JSON.parse(shown.stdout);
    assert.equal(path, join(dataDir, 'config.json'));
    assert.deepEqual(
      {
        port: settings.port.source,
        engine: settings.engine.source,
        url: settings.ollamaUrl,
        trim: settings.trimStrategy,
      },
      {
        port: 'config.json',
        engine: 'config.json',
        url: {
          value: 'http://gpu-box:11434',
          source: 'env',
          scope: 'daemon',
          flag: '--ollama-url',
          env: 'OLLAMA_HOST',
        },
        trim: { value: 'sliding-window', source: 'default', scope: 'batch', flag: '--trim-strategy' },
      },
    );
    const table = await cli(['config', '--data-dir', dataDir]);
    assert.match(table.stdout, /^numCtx\s+\(the smallest window .*\)\s+default$/m);
    assert.match(table.stdout, /^port\s+0\s+config\.json$/m);

    assert.equal((await cli(['config', 'set', 'num-ctx', '4096', '--data-dir', dataDir])).code, 0);
    assert.equal((await cli(['config', 'set', 'modelAliases', 'gemma3:12b=tiny', '--data-dir', dataDir])).code, 0);
    assert.deepEqual(JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')), {
      port: 0,
      engine: 'ollama',
      numCtx: 4096,
      modelAliases: { 'gemma3:12b': 'tiny' },
    });
    const bad = await cli(['config', 'set', 'port', '99999', '--data-dir', dataDir]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'ollama-batch: port: expected from 0 to 65535, got 99999\n');
    const unknown = await cli(['config', 'set', 'num_ctxx', '1', '--data-dir', dataDir]);
    assert.match(unknown.stderr, /unknown setting "num_ctxx"; every setting: ollama-batch config/);
    // A relative model path is taken from where the command runs: the daemon works elsewhere.
    const cwd = tempDir();
    assert.equal(
      (await cli(['config', 'set', 'model-path', join('models', 'x.gguf'), '--data-dir', dataDir], { cwd })).code,
      0,
    );
    assert.equal(
      JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')).modelPath,
      join(cwd, 'models', 'x.gguf'),
    );
    assert.equal((await cli(['config', 'unset', 'numCtx', '--data-dir', dataDir])).code, 0);
    assert.equal(JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')).numCtx, undefined);
  });

  it("applies run's batch settings to its batch, and says which daemon settings wait for a restart", async () => {
    const dataDir = freshDataDir();
    const input = writeTempFile('input.jsonl', batchLines(3, { model: 'tiny' }));
    const first = await cli(['run', input, '--data-dir', dataDir, '--ollama-url', emulator.url, '--port', '0']);
    assert.equal(first.code, 0, first.stderr);
    // The daemon runs; these go with the batch (they were dropped before), and keep-alive waits.
    const second = await cli([
      'run',
      input,
      '--data-dir',
      dataDir,
      '--num-ctx',
      '3072',
      '--trim-strategy',
      'hybrid',
      '--concurrency',
      '1',
      '--keep-alive',
      '5m',
      '--json',
    ]);
    assert.equal(second.code, 0, second.stderr);
    const { batch } = JSON.parse(second.stdout);
    const log = readFileSync(join(dataDir, 'daemon.log'), 'utf8');
    assert.match(
      log,
      new RegExp(`${batch.id}: num_ctx 3072 \\(setting`),
      'the batch ran at the num_ctx its run asked for',
    );
    assert.match(
      log,
      new RegExp(`${batch.id}: runs independent at concurrency 1, trim strategy hybrid`),
      'and with its trim strategy, which a running daemon dropped before',
    );
    assert.match(second.stderr, /keepAlive: "-1" → "5m"/);
    assert.match(second.stderr, /restart it with: ollama-batch stop --data-dir \S+ && ollama-batch serve --detach/);
    assert.equal(JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')).keepAlive, '5m');
  });

  it('fails a file for a model the engine does not serve at once, exit 2; an alias in config.json makes it run', async () => {
    const dataDir = freshDataDir();
    const input = writeTempFile('input.jsonl', batchLines(20, { model: 'gemma3:12b' }));
    const trapped = await cli(['run', input, '--data-dir', dataDir, '--ollama-url', emulator.url, '--port', '0']);
    assert.equal(trapped.code, 2, trapped.stderr);
    assert.match(
      `${trapped.stdout}${trapped.stderr}`,
      /model "gemma3:12b" is not served by the ollama engine; it has: tiny/,
    );
    // A daemon setting: remembered now, applied at the restart the answer names.
    const set = await cli(['config', 'set', 'model-alias', 'gemma3:12b=tiny', '--data-dir', dataDir]);
    assert.match(
      set.stdout,
      /applies it at its restart: ollama-batch stop --data-dir \S+ && ollama-batch serve --detach/,
    );
    assert.equal((await cli(['stop', '--data-dir', dataDir])).code, 0);
    const aliased = await cli(['run', input, '--data-dir', dataDir, '--json']);
    assert.equal(aliased.code, 0, aliased.stderr);
    const { batch } = JSON.parse(aliased.stdout);
    assert.equal(batch.request_counts.completed, 20);
    assert.equal(batch.model, 'gemma3:12b', "the batch keeps the file's name");
  });
});

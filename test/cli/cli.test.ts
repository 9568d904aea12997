// The `ollama-batch` command line as a user runs it: the built CLI in child processes.
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_HTTP_PORT } from '../../server/config/defaults.js';
import { EXIT_ENGINE_MISSING } from '../../server/daemon-access/local-daemon.js';
import { batchLines, requestLine, tempDir, writeTempFile } from '../support/batch-files.js';
import { cli, freshDataDir, lockRemoved } from '../support/cli-process.js';
import { CLI } from '../support/daemon-process.js';
import { FakeNvidiaSmi } from '../support/fake-nvidia-smi.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { tinyModelPath } from '../support/models.js';
import { readJsonl } from '../support/shapes.js';

/** The version the CLI and its daemon must report: package.json's, read here on its own. */
const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

describe('the ollama-batch CLI', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 2 });
  });
  after(() => emulator.close());

  it("has --help on every command, and --version with package.json's version, exit code 0", async () => {
    for (const command of [
      [],
      ['serve'],
      ['run'],
      ['follow'],
      ['status'],
      ['list'],
      ['cancel'],
      ['resume'],
      ['stop'],
      ['validate'],
    ]) {
      const { code, stdout } = await cli([...command, '--help']);
      assert.equal(code, 0, command.join(' '));
      assert.match(stdout, /Usage: ollama-batch/);
    }
    for (const command of ['run', 'follow'])
      assert.match(
        (await cli([command, '--help'])).stdout,
        /Exit codes:\n {2}0 {4}the batch completed[^]* 3 {4}the batch ended with failed lines/,
      );
    assert.deepEqual(await cli(['--version']), { code: 0, stdout: `${packageVersion}\n`, stderr: '' });
  });

  it('validates a file: 0 when valid, 1 with the line and field when not, --json as data', async () => {
    const good = writeTempFile('good.jsonl', batchLines(3, { model: 'tiny' }));
    assert.match((await cli(['validate', good])).stdout, /valid, 3 requests for model tiny/);
    const bad = { ...requestLine(2, { model: 'tiny' }), url: '/v1/embeddings' };
    const badFile = writeTempFile(
      'bad.jsonl',
      `${JSON.stringify(requestLine(1, { model: 'tiny' }))}\n${JSON.stringify(bad)}\n`,
    );
    const result = await cli(['validate', badFile]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /bad\.jsonl line 2: url "\/v1\/embeddings" does not match .* \[url_mismatch, url\]/);
    const json = JSON.parse((await cli(['validate', badFile, '--json'])).stdout);
    assert.equal(json.valid, false);
    assert.equal(json.errors[0].line, 2);
    const missing = await cli(['validate', join(tempDir(), 'nope.jsonl')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^ollama-batch: no such file/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace');
  });

  it('runs a batch with a daemon it starts, then status, cancel and stop answer', async () => {
    const dataDir = freshDataDir();
    const none = await cli(['status', '--data-dir', dataDir]);
    assert.equal(none.code, 0, 'status answers without a daemon, from the data dir');
    assert.match(none.stderr, /no daemon runs for/);
    assert.equal(none.stdout, 'no batches\n');

    const input = writeTempFile('input.jsonl', batchLines(50, { model: 'tiny' }));
    const run = await cli([
      'run',
      input,
      '--data-dir',
      dataDir,
      '--engine',
      'ollama',
      '--ollama-url',
      emulator.url,
      '--json',
    ]);
    assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr} ${run.stdout}`);
    const result = JSON.parse(run.stdout);
    assert.equal(result.batch.status, 'completed');
    assert.equal(result.batch.completion_window, '7d', 'the CLI asks for 7 days');
    assert.equal(readJsonl(result.output_path).length, 50);

    const status = JSON.parse((await cli(['status', '--data-dir', dataDir, '--json'])).stdout);
    assert.equal(status.batches[0].id, result.batch.id);
    assert.equal(status.daemon.engine.name, 'ollama');
    assert.equal(status.daemon.version, packageVersion);
    const one = await cli(['status', result.batch.id, '--data-dir', dataDir]);
    assert.match(one.stdout, new RegExp(`${result.batch.id}\\s+completed\\s+50/50 done, 0 failed`));
    assert.match(one.stdout, /output file: file-\S+ {2}\S+\.jsonl/);

    const cancel = await cli(['cancel', result.batch.id, '--data-dir', dataDir]);
    assert.equal(cancel.code, 1);
    assert.match(cancel.stderr, /is completed and cannot be cancelled/);

    const stopped = lockRemoved(dataDir);
    assert.equal((await cli(['stop', '--data-dir', dataDir])).code, 0);
    await stopped;
  });

  it('status shows the GPUs from nvidia-smi and warns of a model spilled from VRAM', async () => {
    const fake = await FakeNvidiaSmi.create();
    const spilling = await startOllamaEmulator({ instant: true, models: ['tiny'], vramBytes: 1000 });
    const dataDir = freshDataDir();
    try {
      const input = writeTempFile('input.jsonl', batchLines(5, { model: 'tiny' }));
      const run = await cli([
        'run',
        input,
        '--data-dir',
        dataDir,
        '--ollama-url',
        spilling.url,
        '--nvidia-smi-path',
        fake.path,
        '--vram-poll-ms',
        '50',
      ]);
      assert.equal(run.code, 0, run.stderr);
      // The model is loaded now; wait for a reading taken since.
      let status: { gpu: { models: unknown[] } | null } | undefined;
      while (!status?.gpu?.models.length)
        status = JSON.parse((await cli(['status', '--data-dir', dataDir, '--json'])).stdout).daemon;
      const text = (await cli(['status', '--data-dir', dataDir])).stdout;
      assert.match(text, /GPU 0 NVIDIA GeForce RTX 4080: 11\.7\/16\.0 GiB \(73%\), util 30%/);
      assert.match(text, /GPU 1 NVIDIA A100-SXM4-80GB: 1\.0\/80\.0 GiB/);
      assert.match(text, /warning: tiny:latest: >?\d+% of the model is in system RAM \(spilled from VRAM\)/);
    } finally {
      await cli(['stop', '--data-dir', dataDir]);
      await spilling.close();
      await fake.remove();
    }
  });

  it('takes a relative --data-dir relative to where it is run, for the daemon it starts too', async () => {
    const cwd = tempDir();
    freshDataDir(cwd);
    const input = writeTempFile('input.jsonl', batchLines(5, { model: 'tiny' }));
    const run = await cli(['run', input, '--data-dir', 'data', '--ollama-url', emulator.url, '--json'], { cwd });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(JSON.parse(run.stdout).output_path.startsWith(join(cwd, 'data', 'files')));
    const stopped = lockRemoved(join(cwd, 'data'));
    assert.equal((await cli(['stop', '--data-dir', 'data'], { cwd })).code, 0);
    await stopped;
  });

  it('starts its daemon with the HTTP flags: --port, and the API key from --api-key-file or its environment, never in an argument', async () => {
    // A key in run's own arguments would show in `ps` for as long as it waits: run does not take
    // one. (The file is missing so that a run which took it would start nothing.)
    const refused = await cli(['run', join(tempDir(), 'missing.jsonl'), '--api-key', 'key-of-the-test']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /unknown option '--api-key'/);

    const input = writeTempFile('input.jsonl', batchLines(3, { model: 'tiny' }));

    const keyFile = writeTempFile('api-key', 'key-from-a-file\n');
    const fromEnvironment = { ...process.env, OLLAMA_BATCH_API_KEY: 'key-from-the-environment' };
    for (const [key, flags, env] of [
      ['key-from-a-file', ['--api-key-file', keyFile], process.env],
      ['key-from-the-environment', [], fromEnvironment],
    ] as const) {
      const dataDir = join(tempDir(), 'data'); // no config.json: the port is the flag's
      const run = await cli(
        ['run', input, '--data-dir', dataDir, '--ollama-url', emulator.url, '--port', '0', ...flags, '--json'],
        { env },
      );
      assert.equal(run.code, 0, run.stderr);
      const { daemon } = JSON.parse((await cli(['status', '--data-dir', dataDir, '--json'])).stdout);
      assert.notEqual(new URL(daemon.http).port, String(DEFAULT_HTTP_PORT));
      assert.equal((await fetch(`${daemon.http}/v1/models`)).status, 401);
      assert.equal(
        (await fetch(`${daemon.http}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status,
        200,
      );
      if (process.platform === 'linux')
        assert.doesNotMatch(readFileSync(`/proc/${daemon.pid}/cmdline`, 'utf8'), new RegExp(key));
      const stopped = lockRemoved(dataDir);
      assert.equal((await cli(['stop', '--data-dir', dataDir])).code, 0);
      await stopped;
    }
  });

  it('takes a relative --model-path, even a bare file name, relative to where it is run, though the daemon it starts works in its data dir', async () => {
    const cwd = tempDir();
    freshDataDir(cwd);
    // A bare name, as the README's sample job gives it: a file here, not a command on PATH.
    copyFileSync(await tinyModelPath(), join(cwd, 'tiny.gguf'));
    const input = writeTempFile('input.jsonl', batchLines(3, { model: 'tiny', maxTokens: 4 }));
    const run = await cli(
      ['run', input, '--data-dir', 'data', '--engine', 'llama-cpp', '--model-path', 'tiny.gguf', '--json'],
      { cwd },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).batch.status, 'completed');
    const stopped = lockRemoved(join(cwd, 'data'));
    assert.equal((await cli(['stop', '--data-dir', 'data'], { cwd })).code, 0);
    await stopped;
  });

  it('refuses bad options with one line and a non-zero code', async () => {
    const bad = await cli(['serve', '--engine', 'nope']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Allowed choices are ollama, openai, llama-cpp/);
    const noModel = await cli(['serve', '--data-dir', tempDir(), '--engine', 'llama-cpp']);
    assert.equal(noModel.code, 1);
    assert.match(noModel.stderr, /needs a GGUF file: --model-path/);
    const share = await cli(['serve', '--vram-warning-share', '2']);
    assert.notEqual(share.code, 0);
    assert.match(share.stderr, /--vram-warning-share: expected a share between 0 and 1, got 2/);
  });

  it("names what is missing when the llama-cpp engine runs from a package without node-llama-cpp (the extension's)", async () => {
    // The .vsix layout: the manifest and dist/, no node_modules.
    const packaged = tempDir();
    cpSync(join(CLI, '..'), join(packaged, 'dist'), { recursive: true });
    copyFileSync(join(CLI, '..', '..', 'package.json'), join(packaged, 'package.json'));
    const model = writeTempFile('not-a-model.gguf', 'GGUF');
    const { code, stderr } = await cli(
      ['serve', '--data-dir', freshDataDir(), '--engine', 'llama-cpp', '--model-path', model],
      { script: join(packaged, 'dist', 'cli.mjs') },
    );
    assert.equal(code, EXIT_ENGINE_MISSING);
    assert.ok(stderr.includes(`node-llama-cpp package, which is not installed in ${packaged}/node_modules`), stderr);
    assert.match(stderr, /use the ollama engine/);
    // A daemon started detached (as `run` and the extension start it) hands the reason on.
    const dataDir = freshDataDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ port: 0, engine: 'llama-cpp', modelPath: model }));
    const run = await cli(
      ['run', writeTempFile('batch.jsonl', batchLines(1, { model: 'tiny' })), '--data-dir', dataDir],
      { script: join(packaged, 'dist', 'cli.mjs') },
    );
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      new RegExp(
        `the daemon exited with code ${EXIT_ENGINE_MISSING}: .*node-llama-cpp package, which is not installed`,
      ),
    );
  });

  it('passes --keep-alive to Ollama: 0 unloads the model after each answer', async () => {
    const dataDir = freshDataDir();
    try {
      const input = writeTempFile('input.jsonl', batchLines(3, { model: 'tiny' }));
      const run = await cli(['run', input, '--data-dir', dataDir, '--ollama-url', emulator.url, '--keep-alive', '0']);
      assert.equal(run.code, 0, run.stderr);
      const loaded = (await (await fetch(`${emulator.url}/api/ps`)).json()) as { models: unknown[] };
      assert.deepEqual(loaded.models, []);
    } finally {
      await cli(['stop', '--data-dir', dataDir]);
    }
  });
});

// `run` and `follow` as a user lives them: the exit code says how the batch ended, a daemon that
// dies is restarted and the batch followed to its end, a deliberate stop is not, a second `run`
// of the same file follows the first, and without a terminal the progress comes at a steady pace.
// Also the CLI without a daemon (status, list), `serve --detach`, and /v1/models with no engine.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, readLock } from '../../server/daemon-access/local-daemon.js';
import { connectDaemon } from '../../server/rpc/client.js';
import * as protocol from '../../server/protocol/methods.js';
import type { Batch } from '../../server/protocol/openai.js';
import { batchLines, requestLine, writeTempFile } from '../support/batch-files.js';
import { cli, freshDataDir, lockRemoved, startCli, type RunningCli } from '../support/cli-process.js';
import { startDaemonProcess, waitForBatch } from '../support/daemon-process.js';
import { startOllamaEmulator, type EmulatorOptions, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { readJsonl } from '../support/shapes.js';

/** The batch id that `run` announces. */
const submittedId = async (running: RunningCli): Promise<string> =>
  (await running.line(/^batch \S+ submitted/)).split(' ')[1]!;

/** Waits, over a connection of its own, until the batch satisfies `until`. */
async function batchReaches(dataDir: string, id: string, until: (batch: Batch) => boolean): Promise<Batch> {
  const connection = await connectDaemon(dataDir);
  assert.ok(connection, 'the daemon answers');
  try {
    return await waitForBatch(connection, id, until);
  } finally {
    connection.dispose();
  }
}

/** The progress lines (not the status changes) a run printed without a terminal, with their counts. */
const progressLines = (running: RunningCli): Array<{ at: number; done: number }> =>
  running.lines
    .map(({ at, text }) => ({ at, match: / in_progress ([\d,]+)\//.exec(text) }))
    .filter(({ match }) => match)
    .map(({ at, match }) => ({ at, done: Number(match![1]!.replaceAll(',', '')) }));

describe('run and follow: exit codes, a daemon that dies, attaching, pacing', function () {
  this.timeout(180_000);
  let emulator: RunningEmulator | undefined;
  const dataDirs: string[] = [];

  /** An emulator and a data dir whose daemon uses it (config.json, so that `follow` starts the same). */
  async function setUp(options: EmulatorOptions): Promise<{ dataDir: string; url: string }> {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], ...options });
    const dataDir = freshDataDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ port: 0, ollamaUrl: emulator.url }));
    dataDirs.push(dataDir);
    return { dataDir, url: emulator.url };
  }

  afterEach(async () => {
    for (const dataDir of dataDirs.splice(0)) await cli(['stop', '--data-dir', dataDir]);
    await emulator?.close();
    emulator = undefined;
  });

  it('exits 3 when lines failed, with the top reasons and the error file; 2 when the batch fails validation', async () => {
    const { dataDir } = await setUp({ parallel: 2 });
    // Ollama refuses thinking on a model that has none: those lines fail, the others succeed.
    const lines = Array.from({ length: 20 }, (_, index) => {
      const line = requestLine(index + 1, { model: 'tiny' });
      if ((index + 1) % 5 === 0) (line.body as Record<string, unknown>).reasoning_effort = 'low';
      return JSON.stringify(line);
    });
    const input = writeTempFile('input.jsonl', `${lines.join('\n')}\n`);
    const run = await cli(['run', input, '--data-dir', dataDir]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stdout, /completed\s+20\/20 done, 4 failed/);
    const reasons =
      /4 lines failed; the top reasons:\n\s+4 × .*does not support thinking\nevery failed line is in (\S+)\n/.exec(
        run.stdout,
      );
    assert.ok(reasons, run.stdout);
    assert.equal(readJsonl(reasons[1]!).length, 4);

    const bad = writeTempFile(
      'bad.jsonl',
      `${JSON.stringify(requestLine(1, { model: 'tiny' }))}\n${JSON.stringify({ ...requestLine(2, { model: 'tiny' }), url: '/v1/embeddings' })}\n`,
    );
    const invalid = await cli(['run', bad, '--data-dir', dataDir]);
    assert.equal(invalid.code, 2, invalid.stderr);
    assert.match(
      invalid.stdout,
      /error: bad\.jsonl line 2: url "\/v1\/embeddings" does not match .* \[url_mismatch, url\]/,
    );
  });

  it('restarts a daemon killed with -9 while it runs, follows the batch again and exits 0 when it completes', async () => {
    const { dataDir } = await setUp({ parallel: 4, latencyMs: 20 });
    const input = writeTempFile('input.jsonl', batchLines(600, { model: 'tiny' }));
    const running = startCli(['run', input, '--data-dir', dataDir, '--concurrency', '4']);
    const id = await submittedId(running);
    await batchReaches(dataDir, id, (batch) => batch.request_counts.completed >= 100);
    const killed = readLock(dataDir)!.pid;
    process.kill(killed, 'SIGKILL');
    await running.line(/^the daemon stopped \(its connection closed\); restarting it to follow batch/);
    const { code, stdout, stderr } = await running.exited;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /daemon restarted; following again/);
    assert.match(stdout, /completed\s+600\/600 done, 0 failed/);
    const lock = readLock(dataDir)!;
    assert.notEqual(lock.pid, killed, 'a new daemon');
    assert.ok(processAlive(lock.pid));
    assert.equal(readJsonl(/output file: \S+ {2}(\S+)/.exec(stdout)![1]!).length, 600);
  });

  it('says in one line what to do when the daemon cannot be restarted', async () => {
    const { dataDir } = await setUp({ parallel: 2, latencyMs: 20 });
    const input = writeTempFile('input.jsonl', batchLines(300, { model: 'tiny' }));
    const running = startCli(['run', input, '--data-dir', dataDir, '--concurrency', '2']);
    const id = await submittedId(running);
    await batchReaches(dataDir, id, (batch) => batch.request_counts.completed >= 10);
    // Read at start only: the next daemon cannot start.
    writeFileSync(join(dataDir, 'config.json'), '{ not json');
    process.kill(readLock(dataDir)!.pid, 'SIGKILL');
    const { code, stderr } = await running.exited;
    assert.equal(code, 1, stderr);
    const last = stderr.trimEnd().split('\n').at(-1)!;
    assert.match(last, /^could not restart the daemon: the daemon exited with code 1: .*config\.json/);
    assert.ok(
      last.endsWith(
        `; start it with ollama-batch serve --data-dir ${dataDir}, then: ollama-batch follow ${id} --data-dir ${dataDir}`,
      ),
      last,
    );
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });

  it('stops following on a deliberate stop (exit 1, how to follow later); follow picks the batch up again; status and list answer without a daemon', async () => {
    const { dataDir } = await setUp({ parallel: 2, latencyMs: 20 });
    const input = writeTempFile('input.jsonl', batchLines(300, { model: 'tiny' }));
    const running = startCli(['run', input, '--data-dir', dataDir, '--concurrency', '2']);
    const id = await submittedId(running);
    await batchReaches(dataDir, id, (batch) => batch.request_counts.completed >= 20);
    const stopped = lockRemoved(dataDir);
    assert.equal((await cli(['stop', '--data-dir', dataDir])).code, 0);
    const { code, stderr } = await running.exited;
    assert.equal(code, 1, stderr);
    assert.ok(
      stderr.includes(
        `the daemon was stopped (a shutdown request); batch ${id} goes on at its next start. Follow it then with: ollama-batch follow ${id} --data-dir ${dataDir}`,
      ),
      stderr,
    );
    assert.doesNotMatch(stderr, /restarting/);
    await stopped;
    // The client that had just left was not written to as an error.
    assert.doesNotMatch(readFileSync(join(dataDir, 'daemon.log'), 'utf8'), /Sending notification failed|EPIPE/);

    // Without a daemon: the batches as it left them, and how to start it.
    const offline = await cli(['status', '--data-dir', dataDir]);
    assert.equal(offline.code, 0, offline.stderr);
    assert.ok(
      offline.stderr.includes(
        `no daemon runs for ${dataDir}; these are its batches as it left them; start it with: ollama-batch serve --detach --data-dir ${dataDir}`,
      ),
      offline.stderr,
    );
    assert.match(offline.stdout, new RegExp(`^${id}\\s+in_progress\\s+\\d+/300 done`));
    assert.equal((await cli(['list', '--data-dir', dataDir])).stdout, offline.stdout);
    assert.equal(JSON.parse((await cli(['status', '--data-dir', dataDir, '--json'])).stdout).daemon, null);
    assert.match((await cli(['status', id, '--data-dir', dataDir])).stdout, /output file: file-\S+ {2}\S+\.jsonl/);
    const unknown = await cli(['status', 'batch_nope', '--data-dir', dataDir]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^ollama-batch: No batch with id "batch_nope"/);

    const unknownFollow = await cli(['follow', 'batch_nope', '--data-dir', dataDir]);
    assert.equal(unknownFollow.code, 1);
    assert.match(unknownFollow.stderr, /^ollama-batch: No batch with id "batch_nope"/m);

    // follow with no id: the batch that has not ended.
    const follow = await cli(['follow', '--data-dir', dataDir]);
    assert.equal(follow.code, 0, follow.stderr);
    assert.match(follow.stderr, new RegExp(`following batch ${id}`));
    assert.match(follow.stdout, /completed\s+300\/300 done, 0 failed/);
  });

  it('follows the running batch of the same input instead of submitting it again; --new submits another', async () => {
    const { dataDir } = await setUp({ parallel: 1, latencyMs: 20 });
    const input = writeTempFile('input.jsonl', batchLines(200, { model: 'tiny' }));
    const first = startCli(['run', input, '--data-dir', dataDir, '--concurrency', '1']);
    const id = await submittedId(first);
    await batchReaches(dataDir, id, (batch) => batch.request_counts.completed >= 5);
    const again = startCli(['run', input, '--data-dir', dataDir, '--json']);
    await again.line(
      new RegExp(
        `^batch ${id} with the same input is already running \\(\\d+/200 done\\); following it; use --new to submit another$`,
      ),
    );
    // Ctrl-C detaches the first: the batch goes on, and the hint names this data dir.
    first.child.kill('SIGINT');
    const detached = await first.exited;
    assert.equal(detached.code, 130);
    assert.ok(
      detached.stderr.includes(
        `detached; batch ${id} goes on. Follow it again with: ollama-batch follow ${id} --data-dir ${dataDir}`,
      ),
      detached.stderr,
    );
    const forced = await cli(['run', input, '--data-dir', dataDir, '--new', '--json']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(JSON.parse(forced.stdout).batch.id, id);
    const attached = await again.exited;
    assert.equal(attached.code, 0, attached.stderr);
    assert.equal(JSON.parse(attached.stdout).batch.id, id);
  });

  it('without a terminal, prints a progress line only when both the interval and 1% have passed', async () => {
    // Fast progress: the interval rules.
    const { dataDir } = await setUp({ parallel: 2, latencyMs: 10 });
    const input = writeTempFile('input.jsonl', batchLines(800, { model: 'tiny' }));
    const interval = 1000;
    const started = Date.now();
    const fast = startCli(['run', input, '--data-dir', dataDir, '--concurrency', '2'], {
      OLLAMA_BATCH_PROGRESS_INTERVAL_MS: String(interval),
    });
    assert.equal((await fast.exited).code, 0);
    const seconds = (Date.now() - started) / 1000;
    const paced = progressLines(fast);
    assert.ok(paced.length >= 2, `progress lines appear: ${fast.lines.map((line) => line.text).join('\n')}`);
    assert.ok(paced.length <= Math.ceil(seconds) + 1, `at most one a second in ${seconds} s: ${paced.length}`);
    for (let index = 1; index < paced.length; index++)
      // Half an interval of slack, for a line the busy machine handed over late; notifications
      // come every 250 ms, so lines without the rule would still be closer.
      assert.ok(paced[index]!.at - paced[index - 1]!.at >= interval / 2, 'an interval apart');
  });

  it('without a terminal, at a slow pace waits for 1% between lines; a cancelled batch exits 4', async () => {
    // About 6 answers a second against 4 notifications: 1% (3 lines) rules.
    const { dataDir } = await setUp({ parallel: 1, latencyMs: 150 });
    const input = writeTempFile('input.jsonl', batchLines(300, { model: 'tiny' }));
    const slow = startCli(['run', input, '--data-dir', dataDir, '--concurrency', '1'], {
      OLLAMA_BATCH_PROGRESS_INTERVAL_MS: '1',
    });
    const id = await submittedId(slow);
    await batchReaches(dataDir, id, (batch) => batch.request_counts.completed >= 20);
    assert.equal((await cli(['cancel', id, '--data-dir', dataDir])).code, 0);
    const { code, stdout } = await slow.exited;
    assert.equal(code, 4);
    assert.match(stdout, /cancelled/);
    const paced = progressLines(slow);
    assert.ok(paced.length >= 3, `progress lines appear: ${slow.lines.map((line) => line.text).join('\n')}`);
    for (let index = 1; index < paced.length; index++)
      assert.ok(paced[index]!.done - paced[index - 1]!.done >= 3, `1% apart: ${JSON.stringify(paced)}`);
  });
});

describe('serve --detach, the daemon log, and /v1/models without an engine', function () {
  this.timeout(120_000);

  it('starts the daemon in the background and says where it is; /v1/models answers 503 naming the engine, logged once', async () => {
    const dataDir = freshDataDir();
    // Nothing listens on the discard port.
    const engineUrl = 'http://127.0.0.1:9';
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ port: 0, ollamaUrl: engineUrl }));
    try {
      const started = await cli(['serve', '--detach', '--data-dir', dataDir]);
      assert.equal(started.code, 0, started.stderr);
      const said = new RegExp(
        `^daemon started: pid (\\d+), HTTP (http://127\\.0\\.0\\.1:\\d+)/v1, log ${dataDir}/daemon\\.log; stop it with: ollama-batch stop --data-dir ${dataDir}\\n$`,
      ).exec(started.stdout);
      assert.ok(said, started.stdout);
      assert.ok(processAlive(Number(said[1])));
      const twice = await cli(['serve', '--detach', '--data-dir', dataDir]);
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, new RegExp(`a daemon already runs for .* \\(pid ${said[1]}, `));
      const foreground = await cli(['serve', '--data-dir', dataDir]);
      assert.equal(foreground.code, 1);
      assert.ok(
        foreground.stderr.includes(`stop it with: ollama-batch stop --data-dir ${dataDir} (or kill`),
        foreground.stderr,
      );

      const models = await fetch(`${said[2]}/v1/models`);
      assert.equal(models.status, 503);
      const { error } = (await models.json()) as { error: { message: string; code: string; type: string } };
      assert.equal(error.code, 'engine_unavailable');
      assert.ok(error.message.includes(`the ollama engine at ${engineUrl} does not answer`), error.message);
      const log = readFileSync(join(dataDir, 'daemon.log'), 'utf8');
      assert.equal(
        log.match(/GET \/v1\/models: the ollama engine at http:\/\/127\.0\.0\.1:9 does not answer/g)?.length,
        1,
      );
      // Started detached, its stderr is the log: every line once.
      assert.equal(log.match(/ listening on /g)?.length, 1);
    } finally {
      const stopped = lockRemoved(dataDir);
      await cli(['stop', '--data-dir', dataDir]);
      await stopped;
    }
    const hint = await cli(['cancel', 'batch_x', '--data-dir', dataDir]);
    assert.ok(hint.stderr.includes(`start one with: ollama-batch serve --data-dir ${dataDir}`), hint.stderr);
  });

  it('goes on when its stderr is closed under it, logging to daemon.log alone, once a line', async () => {
    const dataDir = freshDataDir();
    const daemon = await startDaemonProcess(dataDir, ['--ollama-url', 'http://127.0.0.1:9']);
    try {
      // Whoever read its stderr is gone (a closed terminal, a parent that exited).
      daemon.child.stderr!.destroy();
      const { http } = await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type);
      // Lines to log: each a 503 for the engine that does not answer.
      for (let request = 0; request < 3; request++) assert.equal((await fetch(`${http}/v1/models`)).status, 503);
      const info = await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type);
      assert.equal(info.http, http, 'it still answers');
      const log = readFileSync(join(dataDir, 'daemon.log'), 'utf8');
      assert.equal(log.match(/GET \/v1\/models: the ollama engine/g)?.length, 3);
      assert.doesNotMatch(log, /uncaught exception|EPIPE/);
    } finally {
      await daemon.stop();
    }
  });

  it('writes daemon.log in the foreground too', async () => {
    const dataDir = freshDataDir();
    const daemon = await startDaemonProcess(dataDir, ['--ollama-url', 'http://127.0.0.1:9']);
    try {
      assert.ok(existsSync(join(dataDir, 'daemon.log')));
      assert.match(readFileSync(join(dataDir, 'daemon.log'), 'utf8'), / listening on /);
    } finally {
      await daemon.stop();
    }
  });
});

// `run` and `follow` stop at a pause of the pilot check with exit code 5, the reason and the
// commands that go on; `resume` overrides the check and the batch completes; `resume` of a batch
// that does not wait for one is refused with why.
import assert from 'node:assert/strict';
import { batchLines, writeTempFile } from '../support/batch-files.js';
import { cli, freshDataDir, lockRemoved } from '../support/cli-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { readJsonl } from '../support/shapes.js';

const LINES = 40;
const SCHEMA = { type: 'object', properties: { score: { type: 'integer', maximum: 100 } }, required: ['score'] };

describe('ollama-batch resume', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], instantContent: '{"score":150}' });
  });
  after(() => emulator.close());

  it('resumes a batch the pilot check paused, which run left with exit code 5', async () => {
    const dataDir = freshDataDir();
    const input = writeTempFile('input.jsonl', batchLines(LINES, { model: 'tiny', schema: SCHEMA }));
    const run = await cli([
      'run',
      input,
      '--data-dir',
      dataDir,
      '--engine',
      'ollama',
      '--ollama-url',
      emulator.url,
      '--concurrency',
      '2',
      '--pilot-answers',
      '10',
    ]);
    assert.equal(run.code, 5, `exit ${run.code}: ${run.stderr} ${run.stdout}`);
    const paused =
      /batch (batch_\w+) is paused: pilot check: 10 of 10 answers break their schema \(most often: score must be <= 100; at most 20% may\)/.exec(
        run.stderr,
      );
    assert.ok(paused, run.stderr);
    const id = paused[1]!;
    assert.match(
      run.stderr,
      new RegExp(
        `resume it with: ollama-batch resume ${id} --data-dir \\S+; or cancel it with: ollama-batch cancel ${id}`,
      ),
    );

    const resume = await cli(['resume', id, '--data-dir', dataDir, '--json']);
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal(JSON.parse(resume.stdout).paused_reason, null);
    const follow = await cli(['follow', id, '--data-dir', dataDir, '--json']);
    assert.equal(follow.code, 0, follow.stderr);
    const result = JSON.parse(follow.stdout);
    assert.equal(result.batch.status, 'completed');
    assert.deepEqual(
      readJsonl<{ custom_id: string }>(result.output_path)
        .map((line) => line.custom_id)
        .sort(),
      Array.from({ length: LINES }, (_, index) => `req-${index + 1}`).sort(),
    );

    const again = await cli(['resume', id, '--data-dir', dataDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`Batch ${id} is completed, not paused by the pilot check`));

    const stopped = lockRemoved(dataDir);
    assert.equal((await cli(['stop', '--data-dir', dataDir])).code, 0);
    await stopped;
  });
});

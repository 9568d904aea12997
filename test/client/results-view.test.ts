// The results panel's view of an analysis: schema-valid of total first, the invalid answers by
// reason, a running batch marked partial, and the expected scores or why there are none. Built
// from real reports of hand-made result files, no VS Code.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeResults } from '../../server/analysis/analyze.js';
import { cascadeAnalysis, joinCascade } from '../../server/cascade/join.js';
import { reportView } from '../../client/model/results-view.js';
import { answer, requestLines, success, tokens } from '../analysis/result-lines.js';
import { tempDir } from '../support/batch-files.js';
import { makeBatch } from './batches.js';

const SCHEMA = {
  type: 'object',
  properties: { score: { type: 'integer', minimum: 0, maximum: 100 } },
  required: ['score'],
};

function files(lines: string[]): { output: string; input: string } {
  const dir = tempDir();
  const output = join(dir, 'output.jsonl');
  const input = join(dir, 'input.jsonl');
  writeFileSync(output, lines.join('\n') + '\n');
  writeFileSync(input, requestLines(['a', 'b', 'c'], SCHEMA));
  return { output, input };
}

describe('the results panel view', () => {
  it('shows schema-valid of total first, the invalid answers by reason, and says there are no logprobs', async () => {
    const { output, input } = files([
      success('a', answer({ score: 70 })),
      success('b', answer({ score: 944 })),
      success('c', answer({ score: 6e66 })),
    ]);
    const view = reportView(await analyzeResults({ output, input }), 'batch_x');
    assert.deepEqual(view.valid, { label: 'Schema-valid', count: 1, total: 3 });
    assert.equal(view.invalid, 2);
    assert.deepEqual(view.invalidReasons, [{ reason: 'score must be <= 100', count: 2 }]);
    assert.equal(view.partial, '');
    assert.match(
      view.expectedNote,
      /^no expected scores: the answers carry no logprobs; ask for them with "logprobs": true/,
    );
    assert.deepEqual(view.uncertain, []);
  });

  it('marks a running batch partial and lists the least certain scores with their expected value', async () => {
    const lines = tokens(['{"score":', ['80', { '80': 0.5, '90': 0.5 }], '}']);
    const { output, input } = files([
      success('a', '{"score":80}', { logprobs: lines }),
      success('b', answer({ score: 60 })),
    ]);
    const report = await analyzeResults({ output, input, running: { status: 'in_progress', total: 3 } });
    const view = reportView(report, 'batch_x');
    assert.equal(view.partial, 'partial: 2 of 3 lines done, batch in_progress');
    assert.match(
      view.expectedNote,
      /^ranked by score_expected: the score weighted by its logprobs, ± score_sd \(1 answer\); 1 without logprobs/,
    );
    assert.deepEqual(view.uncertain, [{ customId: 'a', value: '80 (85 ± 5)', reason: null }]);
    assert.deepEqual(
      view.top.map((row) => row.value),
      ['80 (85 ± 5)', '60'],
    );
  });

  it("says in one line that a batch is a cascade's pass, and whether pass 2 is to come", async () => {
    const { output, input } = files([
      success('a', answer({ score: 70 })),
      success('b', answer({ score: 20 })),
      success('c', answer({ score: 50 })),
    ]);
    const dir = tempDir();
    const source = join(dir, 'people.csv');
    writeFileSync(source, 'id\na\nb\nc\n');
    const joined = await joinCascade({ pass1: { output, input }, pass2: null, source, csv: join(dir, 'joined.csv') });
    const passOne = makeBatch({
      id: 'batch_1',
      status: 'completed',
      metadata: { cascade_pass: '1', cascade_shortlist: 'top 10%' },
    });
    const awaiting = reportView(cascadeAnalysis(joined, { passOne, passTwo: undefined }), 'batch_1');
    assert.equal(awaiting.cascade, 'cascade (top 10%): pass 1 batch_1 scores every row, pass 2 not made yet');
    assert.equal(
      awaiting.partial,
      "partial: pass 1 done, pass 2 not made yet (the daemon makes it from pass 1's shortlist)",
    );
    const cancelled = reportView(
      cascadeAnalysis(joined, { passOne: { ...passOne, status: 'cancelled' }, passTwo: undefined }),
      'batch_1',
    );
    assert.equal(cancelled.cascade, 'cascade (top 10%): pass 1 batch_1 scores every row, no pass 2 (pass 1 cancelled)');
    assert.equal(cancelled.partial, '', 'a cascade that ended without pass 2 is not partial');
    assert.equal(cancelled.csvPath, join(dir, 'joined.csv'));
  });
});

// The results panel's view of an analysis: schema-valid of total first, the invalid answers by
// reason, a running batch marked partial, and the expected scores or why there are none. Built
// from real reports of hand-made result files, no VS Code.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeResults } from '../../server/analysis/analyze.js';
import { reportView } from '../../client/model/results-view.js';
import { answer, requestLines, success, tokens } from '../analysis/result-lines.js';
import { tempDir } from '../support/batch-files.js';

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
});

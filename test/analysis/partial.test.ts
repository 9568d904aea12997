// The analysis of a batch that is still running: its output and error files are journals being
// appended to, so the last line may be half written and the error file may not exist yet. The
// report covers the lines done so far and says it is partial; nothing fails.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeResults } from '../../server/analysis/analyze.js';
import { tempDir } from '../support/batch-files.js';
import { answer, success } from './result-lines.js';

const line = (index: number): string => success(`c${index}`, answer({ score: index * 10 }));

function journal(): { dir: string; output: string; torn: string } {
  const dir = tempDir();
  const output = join(dir, 'output.jsonl');
  // Three whole lines, and the fourth cut halfway, as a journal looks while a line is written.
  const torn = line(4);
  writeFileSync(output, [1, 2, 3].map((index) => `${line(index)}\n`).join('') + torn.slice(0, torn.length / 2));
  writeFileSync(join(dir, 'people.csv'), `id\n${[1, 2, 3, 4, 5].map((index) => `c${index}`).join('\n')}\n`);
  return { dir, output, torn };
}

describe('analysis of a running batch', () => {
  it('reports the lines done so far as partial, skipping a torn last line and an error file not made yet', async () => {
    const { dir, output } = journal();
    const running = { status: 'in_progress', total: 5 };
    const report = await analyzeResults({
      output,
      errors: join(dir, 'errors.jsonl'),
      source: join(dir, 'people.csv'),
      csv: join(dir, 'scored.csv'),
      running,
    });
    assert.deepEqual(report.partial, { done: 3, total: 5, status: 'in_progress' });
    assert.deepEqual([report.lines, report.succeeded, report.malformed.count], [3, 3, 0]);
    const rows = readFileSync(join(dir, 'scored.csv'), 'utf8').trim().split('\r\n').slice(1);
    assert.deepEqual(rows, ['c3,30,ok,', 'c2,20,ok,', 'c1,10,ok,', 'c4,,missing,', 'c5,,missing,']);
  });

  it('takes the torn line once its end is written, with an empty error journal', async () => {
    const { output, torn } = journal();
    appendFileSync(output, `${torn.slice(torn.length / 2)}\n${line(5)}\n`);
    // The error journal made but still empty.
    const errors = join(output, '..', 'errors.jsonl');
    writeFileSync(errors, '');
    const report = await analyzeResults({ output, errors, running: { status: 'in_progress', total: 5 } });
    assert.deepEqual(report.partial, { done: 5, total: 5, status: 'in_progress' });
    assert.equal(report.top[0]!.custom_id, 'c5');
  });

  it('counts a cut last line as malformed in a batch that has ended', async () => {
    const { output } = journal();
    const report = await analyzeResults({ output });
    assert.equal(report.partial, null);
    assert.deepEqual(report.malformed.lines, [{ file: 'output.jsonl', line: 4, problem: 'not valid JSON' }]);
  });
});

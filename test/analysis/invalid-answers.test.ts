// Every answer checked against its whole JSON schema: out of range, a required key missing and a
// rule broken inside a nested object each make the row `invalid` with the reason, in the report
// and in the scored CSV; an answer that is not JSON stays `unparseable`.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { analyzeResults } from '../../server/analysis/analyze.js';
import { tempDir } from '../support/batch-files.js';
import { answer, requestLines, success } from './result-lines.js';

const SCHEMA = {
  type: 'object',
  properties: {
    score: { type: 'integer', minimum: 0, maximum: 100 },
    decision: { type: 'string', enum: ['yes', 'no'] },
    evidence: {
      type: 'object',
      properties: { years: { type: 'integer', exclusiveMinimum: 0 } },
      required: ['years'],
    },
  },
  required: ['score', 'decision'],
};

const ANSWERS: Array<[string, string, string]> = [
  // [custom_id, answer, the status and error the CSV must show]
  ['ok', answer({ score: 80, decision: 'yes', evidence: { years: 3 } }), 'ok|'],
  ['range', answer({ score: 944, decision: 'yes' }), 'invalid|score must be <= 100'],
  ['missing', answer({ score: 50 }), "invalid|answer must have required property 'decision'"],
  ['nested', answer({ score: 60, decision: 'no', evidence: { years: 0 } }), 'invalid|evidence.years must be > 0'],
  ['text', 'I would rate this candidate highly.', 'unparseable|not JSON: "I would rate this candidate highly."'],
];

describe('answers checked against their whole schema', () => {
  it('marks out-of-range, missing and nested violations invalid with their reason, in the report and the CSV', async () => {
    const dir = tempDir();
    const ids = ANSWERS.map(([id]) => id);
    writeFileSync(join(dir, 'input.jsonl'), requestLines(ids, SCHEMA));
    writeFileSync(join(dir, 'output.jsonl'), ANSWERS.map(([id, text]) => success(id, text)).join('\n') + '\n');
    writeFileSync(join(dir, 'people.csv'), `id\n${ids.join('\n')}\n`);
    const report = await analyzeResults({
      output: join(dir, 'output.jsonl'),
      input: join(dir, 'input.jsonl'),
      source: join(dir, 'people.csv'),
      csv: join(dir, 'scored.csv'),
    });

    const { answers } = report;
    assert.deepEqual([answers.schema, answers.valid, answers.parsed], [true, 1, 4]);
    assert.deepEqual(answers.invalid, {
      count: 3,
      custom_ids: ['range', 'missing', 'nested'],
      reasons: {
        'score must be <= 100': 1,
        "answer must have required property 'decision'": 1,
        'evidence.years must be > 0': 1,
      },
    });
    assert.deepEqual(answers.unparseable, { count: 1, custom_ids: ['text'] });
    // Only the valid answer is counted and ranked.
    assert.ok(answers.fields.score?.type === 'number' && answers.fields.score.stats?.count === 1);
    assert.deepEqual(
      report.top.map((row) => row.custom_id),
      ['ok'],
    );

    const rows = parse<Record<string, string>>(readFileSync(join(dir, 'scored.csv'), 'utf8'), { columns: true });
    assert.deepEqual(
      rows.map((row) => `${row.id} ${row.status}|${row.error}`),
      ANSWERS.map(([id, , shown]) => `${id} ${shown}`),
    );
    // The invalid answer's own values stay in the row, for the reader to see what was wrong.
    assert.equal(rows.find((row) => row.id === 'range')!.score, '944');
  });
});

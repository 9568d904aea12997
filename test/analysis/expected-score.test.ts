// Expected scores from the logprobs at a score's tokens, worked out here by hand from known
// distributions: one token per number (OpenAI's tokenizer) and one per digit (Llama, Gemma).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeResults } from '../../server/analysis/analyze.js';
import { expectedScore, numberSpan } from '../../server/analysis/expected-score.js';
import { tempDir } from '../support/batch-files.js';
import { requestLines, success, tokens } from './result-lines.js';

const inRange = (value: number): boolean => Number.isInteger(value) && value >= 0 && value <= 100;
const close = (actual: number | undefined, expected: number, what: string): void =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${what}: ${actual} is not ${expected}`);

/** A score written as one token, 85, with 90 and 80 as alternatives; 850 (out of range) after it. */
const SINGLE = tokens([
  '{"',
  'score',
  '":',
  ['85', { '85': 0.6, '90': 0.3, '80': 0.1 }],
  [',"', { ',"': 0.95, '0': 0.05 }],
  'reason',
  '":"',
  'fits',
  '"}',
]);
const SINGLE_TEXT = '{"score":85,"reason":"fits"}';

/** A score written digit by digit after a space, 8 then 5, then the closing brace. */
const DIGITS = tokens([
  '{"',
  'score',
  '":',
  ' ',
  ['8', { '8': 0.5, '9': 0.25, '7': 0.25 }],
  ['5', { '5': 0.5, '0': 0.5 }],
  ['}', { '}': 0.9, '0': 0.1 }],
]);
const DIGITS_TEXT = '{"score": 85}';

describe('expected scores from logprobs', () => {
  it('finds the score value of a top-level key, not one inside a string or a nested object', () => {
    const text = '{"reason":"\\"score\\": 3","detail":{"score":7},"score": 42.5,"x":1}';
    const span = numberSpan(text, 'score')!;
    assert.equal(text.slice(span.start, span.end), '42.5');
    assert.equal(numberSpan('{"score":"high"}', 'score'), null);
  });

  it('weighs the alternatives of a single-token number, leaving out those outside the range', () => {
    const score = expectedScore(SINGLE_TEXT, SINGLE, 'score', inRange)!;
    // 850 (85 then "0") is out of range; the rest, renormalised over 0.95: 85 × 0.6 + 90 × 0.3 + 80 × 0.1.
    close(score.expected, 85 * 0.6 + 90 * 0.3 + 80 * 0.1, 'expected');
    close(score.sd, Math.sqrt(0.6 * 1 + 0.3 * 16 + 0.1 * 36), 'sd');
  });

  it('combines the digits of a number written digit by digit', () => {
    const score = expectedScore(DIGITS_TEXT, DIGITS, 'score', inRange)!;
    // Tens 8/9/7 (0.5/0.25/0.25), units 5/0 (0.5/0.5); three digits are out of range.
    const tens = 8 * 0.5 + 9 * 0.25 + 7 * 0.25;
    close(score.expected, tens * 10 + 2.5, 'expected');
    const variance = 100 * (0.5 * (8 - tens) ** 2 + 0.25 * (9 - tens) ** 2 + 0.25 * (7 - tens) ** 2) + 6.25;
    close(score.sd, Math.sqrt(variance), 'sd');
  });

  it('lets a token after the number lengthen it: 10 may be 100', () => {
    const text = '{"score":10}';
    const lines = tokens(['{"score":', ['10', { '10': 0.7, '9': 0.3 }], ['}', { '}': 0.8, '0': 0.2 }]]);
    const score = expectedScore(text, lines, 'score', inRange)!;
    // 10 (0.56), 100 (0.14), 9 (0.24), 90 (0.06): all in range.
    close(score.expected, 10 * 0.56 + 100 * 0.14 + 9 * 0.24 + 90 * 0.06, 'expected');
  });

  it('gives nothing without alternatives, or when the tokens do not spell the answer', () => {
    const sure = tokens(['{"score":', '85', '}']);
    assert.equal(expectedScore('{"score":85}', sure, 'score', inRange), null);
    assert.equal(expectedScore('{"score":86}', SINGLE, 'score', inRange), null);
    assert.equal(expectedScore(SINGLE_TEXT, SINGLE, 'missing', inRange), null);
  });

  it('ranks by the expected score, writes it and its sd beside the score, and lists the least certain rows', async () => {
    const dir = tempDir();
    const schema = {
      type: 'object',
      properties: { score: { type: 'integer', minimum: 0, maximum: 100 }, reason: { type: 'string' } },
      required: ['score'],
    };
    const ids = ['sure', 'single', 'digits', 'plain'];
    writeFileSync(join(dir, 'input.jsonl'), requestLines(ids, schema));
    // Three answers say 85; one with no alternatives, 84 without logprobs at all.
    const sure = tokens(['{"score":', ['85', { '85': 1 }], '}']);
    writeFileSync(
      join(dir, 'output.jsonl'),
      [
        success('sure', '{"score":85}', { logprobs: sure }),
        success('single', SINGLE_TEXT, { logprobs: SINGLE }),
        success('digits', DIGITS_TEXT, { logprobs: DIGITS }),
        success('plain', '{"score":84}'),
      ].join('\n') + '\n',
    );
    writeFileSync(join(dir, 'people.csv'), `id\n${ids.join('\n')}\n`);
    const report = await analyzeResults({
      output: join(dir, 'output.jsonl'),
      input: join(dir, 'input.jsonl'),
      source: join(dir, 'people.csv'),
      csv: join(dir, 'scored.csv'),
      top: 2,
    });
    const expected = report.expected_scores!;
    assert.deepEqual(
      [expected.field, expected.columns, expected.rows, expected.without],
      ['score', { expected: 'score_expected', sd: 'score_sd' }, 3, 1],
    );
    // single 86 ± 3, sure 85 ± 0, plain 84 (its score), digits 82.5 ± 7.5.
    assert.deepEqual(
      report.top.map((row) => row.custom_id),
      ['single', 'sure'],
    );
    assert.deepEqual(
      report.bottom.map((row) => row.custom_id),
      ['digits', 'plain'],
    );
    assert.deepEqual(
      expected.most_uncertain.map((row) => [row.custom_id, row.value]),
      [
        ['digits', 85],
        ['single', 85],
      ],
    );
    close(expected.most_uncertain[0]!.sd!, 7.5, 'the digits row sd');
    const csv = readFileSync(join(dir, 'scored.csv'), 'utf8').trim().split('\r\n');
    assert.equal(csv[0], 'id,score,score_expected,score_sd,reason,status,error');
    assert.deepEqual(csv.slice(1), [
      'single,85,86,3,fits,ok,',
      'sure,85,85,0,,ok,',
      'plain,84,,,,ok,',
      'digits,85,82.5,7.5,,ok,',
    ]);
  });
});

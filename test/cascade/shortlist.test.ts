// The shortlist rules (top K%, score >= threshold) over a pass-1 output file, the score-only
// schema derived from the full one, and convert's cascade files and thinking default.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { selectShortlist } from '../../server/cascade/shortlist.js';
import { parseShortlist, shortlistText } from '../../server/protocol/cascade.js';
import { convertCsv, ConvertError, scoreOutputPath } from '../../server/csv/convert.js';
import { scoreFieldOf, scoreMaxTokens, scoreOnlySchema, ScoreSchemaError } from '../../server/openai/score-schema.js';
import type { BatchInputLine } from '../../server/protocol/openai.js';
import { candidatesCsv } from '../fixtures/recruiting/candidates.js';
import { readSampleJob } from '../fixtures/recruiting/sample-job.js';
import { tempDir, writeTempFile } from '../support/batch-files.js';
import { readJsonl } from '../support/shapes.js';
import { success, tokens } from '../analysis/result-lines.js';

const job = readSampleJob();
const schema = scoreOnlySchema(job.schema, 'score');

/** A pass-1 output line answering `content`. */
const outputLine = (customId: string, content: string): string =>
  JSON.stringify({
    id: `batch_req_${customId}`,
    custom_id: customId,
    response: {
      status_code: 200,
      request_id: customId,
      body: { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content } }] },
    },
    error: null,
  });

/** An output file of these answers, in this order, ids a, b, c... */
function outputFile(contents: string[]): string {
  const lines = contents.map((content, index) => outputLine(String.fromCharCode(97 + index), content));
  return writeTempFile('output.jsonl', `${lines.join('\n')}\n`);
}

const select = (output: string, rule: string, total: number) =>
  selectShortlist({ output, rule: parseShortlist(rule), field: 'score', schema, total }).then((ids) => [...ids].sort());

describe('cascade shortlist', () => {
  const scores = [10, 90, 40, 90, 70, 55, 20, 90, 5, 60].map((score) => `{"score":${score}}`);

  it('top K% takes ceil(K% of all rows) with the highest scores, ties cut in output order', async () => {
    const output = outputFile(scores);
    assert.deepEqual(await select(output, 'top 20%', 10), ['b', 'd']);
    assert.deepEqual(await select(output, 'top 30%', 10), ['b', 'd', 'h']);
    assert.deepEqual(await select(output, 'top 50%', 10), ['b', 'd', 'e', 'h', 'j']);
    // 10% of 11 rows (one failed in pass 1) is 1.1: two rows.
    assert.deepEqual(await select(output, 'top 10%', 11), ['b', 'd']);
    assert.deepEqual(await select(output, 'top 100%', 10), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
  });

  it('a threshold takes every row scoring at least it', async () => {
    const output = outputFile(scores);
    assert.deepEqual(await select(output, '>= 60', 10), ['b', 'd', 'e', 'h', 'j']);
    assert.deepEqual(await select(output, '>= 90', 10), ['b', 'd', 'h']);
    assert.deepEqual(await select(output, '>= 91', 10), []);
  });

  it('top K% ranks by the expected score where the answers have logprobs, as the joined CSV does', async () => {
    // Three answers of 90: by file order a and b would make a cut of two; by their logprobs, b
    // (sure of its 9) and c (a 9 against a 5) rank above a (as likely a 1 as a 9).
    const ninety = (alternatives: Record<string, number>) =>
      success('x', '{"score":90}', { logprobs: tokens(['{"score":', ['9', alternatives], ['0', { '0': 1 }], '}']) });
    const lines = [
      ninety({ '9': 0.5, '1': 0.5 }),
      ninety({ '9': 1 }),
      ninety({ '9': 0.8, '5': 0.2 }),
      outputLine('d', '{"score":40}'),
    ].map((line, index) => line.replace('"custom_id":"x"', `"custom_id":"${'abcd'[index]}"`));
    const output = writeTempFile('output.jsonl', `${lines.join('\n')}\n`);
    assert.deepEqual(await select(output, 'top 50%', 4), ['b', 'c']);
    // A threshold is the score as written: all three 90s.
    assert.deepEqual(await select(output, '>= 90', 4), ['a', 'b', 'c']);
  });

  it('never shortlists an answer that breaks the score-only schema', async () => {
    const output = outputFile(['{"score":150}', '{"score":"99"}', 'not json', '{"score":80}', '{"score":8e3}', '']);
    assert.deepEqual(await select(output, 'top 100%', 6), ['d']);
    assert.deepEqual(await select(output, '>= 0', 6), ['d']);
  });

  it('reads the rule as metadata writes it, and refuses others by name', () => {
    for (const text of ['top 10%', 'top 2.5%', '>= 80', '>= -3'])
      assert.equal(shortlistText(parseShortlist(text)), text);
    for (const text of ['top 0%', 'top 101%', 'top 10', '> 80', 'best 10'])
      assert.throws(() => parseShortlist(text), new RegExp(`shortlist "${text}"`));
  });
});

describe('score-only schema', () => {
  it('keeps the score field with its bounds, alone and required', () => {
    assert.equal(scoreFieldOf(job.schema), 'score');
    assert.deepEqual(schema, {
      type: 'object',
      properties: { score: { type: 'integer', minimum: 0, maximum: 100 } },
      required: ['score'],
      additionalProperties: false,
    });
    // {"score":100} is 13 characters: no tokenizer spends more than one token on each.
    assert.equal(scoreMaxTokens(job.schema, 'score'), 13 + 8);
  });

  it('names what is missing', () => {
    assert.throws(() => scoreFieldOf(job.schema, 'reason'), ScoreSchemaError);
    assert.throws(
      () => scoreFieldOf({ type: 'object', properties: { reason: { type: 'string' } } }),
      /no integer or number/,
    );
  });
});

describe('convert for a cascade', () => {
  const input = (): string => writeTempFile('people.csv', candidatesCsv({ rows: 20 }));
  const base = { template: job.template, systemPrompt: job.rubric, idColumn: 'candidate_id', model: 'tiny' };

  it('writes both passes: the score-only requests beside the full ones, thinking off in both', async () => {
    const output = join(tempDir(), 'people.jsonl');
    const report = await convertCsv({ ...base, input: input(), output, schema: job.schema, cascade: true });
    const full = readJsonl<BatchInputLine>(output);
    const score = readJsonl<BatchInputLine>(scoreOutputPath(output));
    assert.equal(full.length, 20);
    assert.deepEqual(
      score.map((line) => line.custom_id),
      full.map((line) => line.custom_id),
    );
    assert.equal(full[0]!.body.reasoning_effort, 'none');
    assert.equal(score[0]!.body.reasoning_effort, 'none');
    assert.equal(score[0]!.body.max_tokens, 21);
    assert.deepEqual(score[0]!.body.messages, full[0]!.body.messages);
    assert.deepEqual(score[0]!.body.response_format, {
      type: 'json_schema',
      json_schema: { name: 'answer', strict: true, schema },
    });
    assert.equal(report.cascade!.score_output, scoreOutputPath(output));
    const projection = report.estimate.projection;
    assert.equal(projection.thinking, 'off');
    assert.ok(projection.cascade!.ratio < 0.35, `cascade ${projection.cascade!.ratio} of the single pass`);
  });

  it('turns thinking on when asked, and shows what it costs', async () => {
    const report = await convertCsv({ ...base, input: input(), schema: job.schema, reasoningEffort: 'medium' });
    assert.equal(report.sample!.body.reasoning_effort, 'medium');
    const { projection } = report.estimate;
    assert.equal(projection.thinking, 'medium');
    assert.ok(projection.thinking_tokens > 0);
    assert.ok(projection.single_pass_seconds > projection.single_pass_seconds_without_thinking);
  });

  it('leaves thinking to the model without a schema, and needs one for a cascade', async () => {
    const report = await convertCsv({ ...base, input: input() });
    assert.equal(report.sample!.body.reasoning_effort, undefined);
    assert.equal(report.estimate.projection.thinking, 'model default');
    await assert.rejects(convertCsv({ ...base, input: input(), cascade: true }), ConvertError);
  });
});

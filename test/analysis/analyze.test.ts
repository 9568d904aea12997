// The analysis of a batch's output and error files: counts, tokens, latency and answer
// statistics, each checked against figures worked out here from the lines written.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnalysisError, analyzeResults } from '../../server/analysis/analyze.js';
import { tempDir } from '../support/batch-files.js';
import { answer, failure, httpFailure, referencePercentile, requestLines, success } from './result-lines.js';

const DECISIONS = ['advance', 'maybe', 'reject'];
const reasonOf = (id: string): string => `Candidate ${id} matches most of the rubric, with a few gaps noted.`;

interface Scored {
  id: string;
  score: number;
  decision: string;
  promptTokens: number;
  cachedTokens: number;
  latencyMs?: number;
}

/** 30 plain answers with distinct scores; every other one records its latency. */
const plain: Scored[] = Array.from({ length: 30 }, (_, index) => ({
  id: `c-${index + 1}`,
  score: ((index + 1) * 37) % 97,
  decision: DECISIONS[index % 3]!,
  promptTokens: 100 + index,
  cachedTokens: index % 2 === 0 ? 64 : 0,
  ...(index % 2 === 0 ? { latencyMs: 200 + index * 13.5 } : {}),
}));
const fields = (item: { id: string; score: number; decision: string }) => ({
  score: item.score,
  decision: item.decision,
  strengths: ['python', 'teamwork'],
  reason: reasonOf(item.id),
});
const fenced = { id: 'c-31', score: 98.5, decision: 'advance' };
const trailingComma = { id: 'c-32', score: 0.5, decision: 'reject' };
const inProse = { id: 'c-33', score: 50.25, decision: 'maybe' };
const cutButWhole = { id: 'c-37', score: 96, decision: 'advance' };
const parsedAnswers = [...plain, fenced, trailingComma, inProse, cutButWhole];

function writeResults(): { output: string; errors: string; malformedLine: number } {
  const dir = tempDir();
  const lines = [
    ...plain.map((item) => success(item.id, answer(fields(item)), item)),
    success(fenced.id, '```json\n' + answer(fields(fenced)) + '\n```'),
    success(trailingComma.id, answer(fields(trailingComma)).replace(/}$/, ',}')),
    success(inProse.id, `Here is my assessment: ${answer(fields(inProse))} Let me know if you need more.`),
    success('c-34', 'I cannot score this candidate.'),
    success('c-35', '{"score": 8', { finishReason: 'length' }),
    success('c-36', ''),
    success(cutButWhole.id, answer(fields(cutButWhole)), { finishReason: 'length' }),
    '',
    '{"custom_id": "c-99", ',
    '{"foo": 1}',
    success('c-1', answer({ score: 1 })),
  ];
  const output = join(dir, 'output.jsonl');
  writeFileSync(output, lines.join('\n') + '\n');
  const errors = join(dir, 'errors.jsonl');
  writeFileSync(
    errors,
    [
      failure('c-38', 'batch_cancelled'),
      failure('c-39', 'batch_cancelled'),
      httpFailure('c-40', 400, {
        code: 'context_length_exceeded',
        type: 'invalid_request_error',
        message: 'the prompt has 9000 tokens; the context is 8192',
      }),
      httpFailure('c-41', 500, { code: null, type: 'server_error', message: 'the engine crashed' }),
      httpFailure('c-42', 404, { code: 'model_not_found', type: 'invalid_request_error', message: 'no model tiny' }),
    ].join('\r\n'),
  );
  return { output, errors, malformedLine: lines.indexOf('{"custom_id": "c-99", ') + 1 };
}

describe('results analysis', () => {
  it('counts lines, outcomes, failures by code, tokens, finish reasons and malformed lines', async () => {
    const { output, errors, malformedLine } = writeResults();
    const report = await analyzeResults({ output, errors });
    assert.equal(report.output_file, output);
    assert.equal(report.error_file, errors);
    assert.equal(report.lines, 37 + 2 + 1 + 5);
    assert.equal(report.succeeded, 37);
    assert.equal(report.failed, 5);
    assert.deepEqual(report.failures_by_code, {
      batch_cancelled: 2,
      context_length_exceeded: 1,
      server_error: 1,
      model_not_found: 1,
    });
    assert.deepEqual(report.malformed, {
      count: 2,
      lines: [
        { file: 'output.jsonl', line: malformedLine, problem: 'not valid JSON' },
        { file: 'output.jsonl', line: malformedLine + 1, problem: 'no custom_id' },
      ],
    });
    assert.equal(report.duplicates, 1);
    // The duplicate's tokens do not count; the other seven successes used the defaults.
    const prompt = plain.reduce((sum, item) => sum + item.promptTokens, 0) + 7 * 100;
    const cached = plain.reduce((sum, item) => sum + item.cachedTokens, 0);
    assert.deepEqual(report.tokens, { prompt, completion: 37 * 20, cached });
    assert.deepEqual(report.finish_reasons, { stop: 35, length: 2 });
  });

  it('gives latency percentiles where lines recorded them', async () => {
    const { output, errors } = writeResults();
    const report = await analyzeResults({ output, errors });
    const latencies = plain.flatMap((item) => (item.latencyMs === undefined ? [] : [item.latencyMs]));
    assert.deepEqual(report.latency_ms, {
      count: 15,
      p50: referencePercentile(latencies, 50),
      p95: referencePercentile(latencies, 95),
      p99: referencePercentile(latencies, 99),
    });
    const dir = tempDir();
    writeFileSync(join(dir, 'plain.jsonl'), success('a', answer({ score: 1 })));
    assert.equal((await analyzeResults({ output: join(dir, 'plain.jsonl') })).latency_ms, null);
  });

  it('parses answers, repairing what is safe, and names the unparseable ones', async () => {
    const { output, errors } = writeResults();
    const { answers } = await analyzeResults({ output, errors });
    assert.equal(answers.parsed, parsedAnswers.length);
    assert.equal(answers.repaired, 2);
    assert.deepEqual(answers.unparseable, { count: 2, custom_ids: ['c-34', 'c-35'] });
    assert.equal(answers.empty, 1);
  });

  it('computes number stats, a histogram, enum counts and presence from the answers', async () => {
    const { output, errors } = writeResults();
    const { answers } = await analyzeResults({ output, errors });
    const scores = parsedAnswers.map((item) => item.score);
    const field = answers.fields.score!;
    assert.equal(field.type, 'number');
    if (field.type !== 'number') return;
    assert.deepEqual([field.not_number, field.range], [0, null]);
    const score = field.stats!;
    const [min, max] = [Math.min(...scores), Math.max(...scores)];
    assert.equal(score.count, scores.length);
    assert.equal(score.min, min);
    assert.equal(score.max, max);
    assert.ok(Math.abs(score.mean - scores.reduce((sum, value) => sum + value, 0) / scores.length) < 1e-9);
    for (const p of [50, 90, 95, 99] as const) assert.equal(score[`p${p}`], referencePercentile(scores, p));
    const width = (max - min) / 10;
    assert.deepEqual(
      score.histogram.map((bin) => bin.count),
      Array.from(
        { length: 10 },
        (_, bin) => scores.filter((value) => Math.min(9, Math.floor((value - min) / width)) === bin).length,
      ),
    );
    assert.equal(
      score.histogram.reduce((sum, bin) => sum + bin.count, 0),
      scores.length,
    );
    const decisions: Record<string, number> = {};
    for (const item of parsedAnswers) decisions[item.decision] = (decisions[item.decision] ?? 0) + 1;
    assert.deepEqual(answers.fields.decision, { type: 'enum', counts: decisions });
    assert.deepEqual(answers.fields.strengths, { type: 'other', present: parsedAnswers.length });
    assert.deepEqual(answers.fields.reason, { type: 'other', present: parsedAnswers.length });
  });

  it('lists the top and bottom rows by the first numeric field, with their reason', async () => {
    const { output, errors } = writeResults();
    const report = await analyzeResults({ output, errors, top: 3 });
    const ranked = [...parsedAnswers].sort((a, b) => b.score - a.score);
    const row = (item: Scored | typeof fenced) => ({
      custom_id: item.id,
      value: item.score,
      expected: null,
      sd: null,
      reason: reasonOf(item.id),
    });
    assert.equal(report.sort_by, 'score');
    assert.deepEqual(report.top, ranked.slice(0, 3).map(row));
    assert.deepEqual(report.bottom, ranked.slice(-3).reverse().map(row));
  });

  it('sorts top and bottom by a string field when asked, and refuses a field no answer has', async () => {
    const { output, errors } = writeResults();
    const report = await analyzeResults({ output, errors, sortBy: 'decision', top: 1 });
    assert.equal(report.sort_by, 'decision');
    assert.equal(report.top[0]!.value, 'reject');
    assert.equal(report.bottom[0]!.value, 'advance');
    await assert.rejects(
      analyzeResults({ output, errors, sortBy: 'salary' }),
      (error) => error instanceof AnalysisError && /--sort-by salary: no answer has that field/.test(error.message),
    );
  });

  it('answers a missing file with one line', async () => {
    const missing = join(tempDir(), 'nope.jsonl');
    await assert.rejects(
      analyzeResults({ output: missing }),
      (error) => error instanceof AnalysisError && error.message === `no such file: ${missing}`,
    );
    const { output } = writeResults();
    await assert.rejects(analyzeResults({ output, errors: missing }), AnalysisError);
  });
});

describe('answers checked against the JSON schema of the batch requests', () => {
  const SCHEMA = {
    type: 'object',
    properties: {
      score: { type: 'integer', minimum: 0, maximum: 100 },
      decision: { type: 'string', enum: ['advance', 'maybe', 'reject'] },
    },
    required: ['score', 'decision'],
    additionalProperties: false,
  };
  /** What a badly behaved model wrote; `1e999` is written as text since JSON.stringify cannot. */
  const ANSWERS: Array<[string, unknown, string]> = [
    ['a1', 90, 'advance'],
    ['a2', '85', 'maybe'],
    ['a3', 150, 'advance'],
    ['a4', 8e127, 'perhaps'],
    ['a5', -7_000_000_000, 'reject'],
    ['a6', '1e999', 'reject'],
    ['a7', 'high', 'reject'],
    ['a8', 40, 'reject'],
    ['a9', 0, 'reject'],
    ['a10', 100, 'advance'],
  ];
  const content = ([, score, decision]: [string, unknown, string]) =>
    score === '1e999' ? `{"score": 1e999, "decision": "${decision}"}` : answer({ score, decision });
  /** Worked out here: an integer within 0–100 and a decision of the enum. */
  const valid = ANSWERS.filter(
    ([, score, decision]) =>
      Number.isInteger(score) &&
      (score as number) >= 0 &&
      (score as number) <= 100 &&
      SCHEMA.properties.decision.enum.includes(decision),
  );
  const ranked = [...valid].sort((a, b) => (b[1] as number) - (a[1] as number)).map(([id]) => id);
  const invalid = ANSWERS.filter((item) => !valid.includes(item)).map(([id]) => id);

  function writeCase(): { input: string; output: string; source: string } {
    const dir = tempDir();
    const input = join(dir, 'input.jsonl');
    writeFileSync(
      input,
      requestLines(
        ANSWERS.map(([id]) => id),
        SCHEMA,
      ),
    );
    const output = join(dir, 'output.jsonl');
    writeFileSync(output, ANSWERS.map((item) => success(item[0], content(item))).join('\n'));
    const source = join(dir, 'people.csv');
    writeFileSync(source, `id,name\n${ANSWERS.map(([id]) => `${id},name of ${id}`).join('\n')}\n`);
    return { input, output, source };
  }

  it('marks answers that break the schema invalid, with the reason, and counts only valid ones in the fields', async () => {
    const { input, output } = writeCase();
    const { answers, succeeded } = await analyzeResults({ output, input });
    assert.deepEqual([answers.schema, answers.parsed, answers.valid, succeeded], [true, 10, valid.length, 10]);
    assert.deepEqual(answers.invalid.custom_ids, invalid);
    assert.equal(answers.invalid.count, invalid.length);
    // The first rule each breaks, in ajv's words: a2's "85" is text; 8e+127 and 1e999 (Infinity) count as integers.
    assert.deepEqual(answers.invalid.reasons, {
      'score must be <= 100': 3,
      'score must be integer': 2,
      'score must be >= 0': 1,
    });
    const score = answers.fields.score!;
    assert.ok(score.type === 'number');
    assert.deepEqual(score.range, { minimum: 0, maximum: 100 });
    assert.equal(score.not_number, 0);
    assert.equal(score.stats!.count, valid.length);
    assert.deepEqual([score.stats!.histogram[0]!.from, score.stats!.histogram.at(-1)!.to], [0, 100]);
    assert.deepEqual(answers.fields.decision, {
      type: 'enum',
      counts: Object.fromEntries(
        SCHEMA.properties.decision.enum
          .map((decision) => [decision, valid.filter((item) => item[2] === decision).length] as const)
          .sort((a, b) => b[1] - a[1]),
      ),
    });
  });

  it('ranks only valid answers in top, bottom and the joined CSV; without the schema 8e+127 is top', async () => {
    const { input, output, source } = writeCase();
    for (const sortBy of [undefined, 'score']) {
      const report = await analyzeResults({ output, input, source, sortBy, top: 3 });
      assert.deepEqual(
        report.top.map((row) => row.custom_id),
        ranked.slice(0, 3),
        `top, --sort-by ${sortBy}`,
      );
      assert.deepEqual(
        report.bottom.map((row) => row.custom_id),
        ranked.slice(-3).reverse(),
        `bottom, --sort-by ${sortBy}`,
      );
      const rows = readFileSync(report.csv!.path, 'utf8')
        .trim()
        .split('\r\n')
        .slice(1)
        .map((line) => line.split(',')[0]);
      assert.deepEqual(rows, [...ranked, ...invalid], 'valid scores first, then the rest in source order');
    }
    const unchecked = await analyzeResults({ output, top: 1 });
    assert.equal(unchecked.top[0]!.custom_id, 'a4');
  });
});

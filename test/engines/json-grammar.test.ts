// The embedded engine's own JSON-schema grammar: the GBNF it writes, the integer and number
// ranges checked exhaustively against ajv (the answer check) on small ranges, and the real test:
// the tiny random-weight model answering under it, every answer inside the schema.
import assert from 'node:assert/strict';
import { checkAnswer } from '../../server/openai/answer-check.js';
import { LlamaCppEngine } from '../../server/engines/llama-cpp.js';
import {
  answerGrammar,
  integerRangeGbnf,
  jsonSchemaToGbnf,
  UnsupportedSchemaError,
} from '../../server/engines/json-grammar.js';
import { readSampleJob } from '../fixtures/recruiting/sample-job.js';
import { never } from '../support/engine-assertions.js';
import { tinyModelPath } from '../support/models.js';

const SCORE_ONLY = {
  type: 'object',
  properties: { score: { type: 'integer', minimum: 0, maximum: 100 } },
  required: ['score'],
  additionalProperties: false,
};

/**
 * A one-rule GBNF expression of the kind the number rules use (literals, classes, groups, |, ?,
 * repetitions) as an anchored RegExp, so a range can be tried on thousands of strings.
 */
function gbnfRegExp(expression: string): RegExp {
  const tokens = expression.match(/"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{\d+(?:,\d*)?\}|[()|?*+]|\S+/g) ?? [];
  const source = tokens
    .map((token) => {
      if (token.startsWith('"')) return JSON.parse(token).replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
      if (token.startsWith('[') || token.startsWith('{') || /^[()|?*+]$/.test(token)) return token;
      throw new Error(`not in the subset: ${token}`);
    })
    .join('');
  return new RegExp(`^(?:${source})$`);
}

/** The expression of the grammar's only rule, `root`. */
function rootExpression(grammar: string): string {
  const lines = grammar.trim().split('\n');
  assert.equal(lines.length, 1, grammar);
  return lines[0]!.replace(/^root ::= /, '');
}

/** What the grammar must accept or refuse: every integer nearby, and the forms JSON allows but the grammar must not write. */
function candidates(from: number, to: number): string[] {
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(String(n));
  out.push('-0', '+5', '05', '007', '00', '1e2', '1E1', '1.', '.5', '', '-', ' 5', '5 ');
  return out;
}

/**
 * The longest answer the grammar allows, in bytes (a string character is at most 4 bytes of
 * UTF-8, an escape 2): with at least one byte per token, max_tokens of this plus one (the end
 * of generation) can never cut an answer.
 */
function maxAnswerBytes(schema: Record<string, unknown>): number {
  if (Array.isArray(schema.enum)) return Math.max(...schema.enum.map((v) => Buffer.byteLength(JSON.stringify(v))));
  switch (schema.type) {
    case 'integer':
      return Math.max(String(schema.minimum).length, String(schema.maximum).length);
    case 'string':
      return 2 + 4 * (schema.maxLength as number);
    case 'array': {
      const items = schema.maxItems as number;
      return 2 + items * maxAnswerBytes(schema.items as Record<string, unknown>) + Math.max(0, items - 1);
    }
    case 'object': {
      const properties = Object.entries(schema.properties as Record<string, Record<string, unknown>>);
      const members = properties.map(([key, value]) => JSON.stringify(key).length + 1 + maxAnswerBytes(value));
      return 2 + members.reduce((a, b) => a + b, 0) + properties.length - 1;
    }
    default:
      throw new Error(`no bound for ${JSON.stringify(schema)}`);
  }
}

describe('JSON schema → GBNF', () => {
  it('writes an integer range exactly, without sign, exponent or leading zeros', () => {
    assert.equal(integerRangeGbnf(0, 100), '[0-9] | [1-9] [0-9] | "100"');
    assert.equal(integerRangeGbnf(-5, 5), '"-" [1-5] | [0-5]');
    assert.equal(
      integerRangeGbnf(7, 1234),
      '[7-9] | [1-9] [0-9] | [1-9] [0-9]{2} | "1" [0-1] [0-9]{2} | "12" [0-2] [0-9] | "123" [0-4]',
    );
    assert.equal(integerRangeGbnf(42, 42), '"42"');
    assert.throws(() => integerRangeGbnf(3, 2), RangeError);
  });

  it('accepts exactly the integers in range, for every small range (negative ones too)', () => {
    const words = candidates(-140, 140);
    for (let min = -25; min <= 25; min++) {
      for (const max of [min, min + 1, min + 9, min + 10, min + 11, 0, 9, 10, 19, 99, 100, 101, 125].filter(
        (m) => m >= min,
      )) {
        const matches = gbnfRegExp(integerRangeGbnf(min, max));
        for (const word of words) {
          const expected = /^(0|-?[1-9][0-9]*)$/.test(word) && Number(word) >= min && Number(word) <= max;
          assert.equal(matches.test(word), expected, `${min}..${max} on ${JSON.stringify(word)}`);
        }
      }
    }
  });

  it('accepts exactly the integers in larger ranges, checked at their edges and digit boundaries', () => {
    for (const [min, max] of [
      [7, 1234],
      [-1234, -7],
      [-999, 1000],
      [100, 100_000],
      [31_415, 92_653],
    ] as const) {
      const matches = gbnfRegExp(integerRangeGbnf(min, max));
      const probes = new Set<number>();
      for (const n of [min, max, 0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 99_999, 100_000]) {
        for (const d of [-2, -1, 0, 1, 2]) probes.add(n + d).add(-(n + d));
      }
      for (let n = min; n <= max; n += Math.ceil((max - min) / 997)) probes.add(n);
      for (const n of probes) {
        assert.equal(matches.test(String(n)), n >= min && n <= max, `${min}..${max} on ${n}`);
      }
    }
  });

  it('writes integers and numbers that ajv finds inside the schema, and every integer ajv allows', () => {
    const schemas: Record<string, unknown>[] = [
      { type: 'integer', minimum: 0, maximum: 100 },
      { type: 'integer', minimum: -3.5, maximum: 12.2 },
      { type: 'integer', exclusiveMinimum: -4, exclusiveMaximum: 17 },
      { type: 'integer', minimum: 5 },
      { type: 'number', minimum: 0, maximum: 1 },
      { type: 'number', minimum: -2.5, maximum: 3.5 },
      { type: 'number', exclusiveMinimum: -3, exclusiveMaximum: 2 },
      { type: 'number', minimum: -10, maximum: -2 },
      { type: 'number', minimum: 0.5, maximum: 1.5 },
    ];
    const words = candidates(-30, 30);
    for (const k of [0, 1, 2, 3, 9, 10]) {
      for (const fraction of ['0', '5', '000', '999999', '1234567'])
        words.push(`${k}.${fraction}`, `-${k}.${fraction}`);
    }
    for (const schema of schemas) {
      const matches = gbnfRegExp(rootExpression(jsonSchemaToGbnf(schema)));
      let accepted = 0;
      for (const word of words) {
        const valid = checkAnswer(word, schema).valid;
        if (matches.test(word)) {
          accepted++;
          assert.ok(valid, `${JSON.stringify(schema)} accepts ${word}, which ajv refuses`);
          assert.doesNotMatch(word, /^-?0\d|^-0$|^\+|[eE]/, `${JSON.stringify(schema)} accepts ${word}`);
        } else if (valid && schema.type === 'integer' && /^(0|-?[1-9]\d*)$/.test(word)) {
          assert.fail(`${JSON.stringify(schema)} refuses the integer ${word}, which ajv allows`);
        }
      }
      assert.ok(accepted > 0, JSON.stringify(schema));
    }
    // Fractions where the whole unit interval is in range, not outside it.
    const unit = gbnfRegExp(rootExpression(jsonSchemaToGbnf({ type: 'number', minimum: 0, maximum: 1 })));
    assert.ok(unit.test('0.25') && unit.test('1') && !unit.test('1.5') && !unit.test('0.1234567'));
  });

  it('writes the score-only schema as compact JSON with the bounded integer', () => {
    assert.equal(
      jsonSchemaToGbnf(SCORE_ONLY),
      ['root ::= "{" "\\"score\\":" root-score "}"', 'root-score ::= [0-9] | [1-9] [0-9] | "100"', ''].join('\n'),
    );
  });

  it('writes the sample answer schema: keys in order, enum literals, bounded strings and arrays', () => {
    const grammar = jsonSchemaToGbnf(readSampleJob().schema);
    const rules = new Map(
      grammar
        .trim()
        .split('\n')
        .map((line) => line.split(' ::= ') as [string, string]),
    );
    assert.equal(
      rules.get('root'),
      '"{" "\\"score\\":" root-score "," "\\"decision\\":" root-decision "," "\\"strengths\\":" root-strengths "," "\\"concerns\\":" root-strengths "," "\\"reason\\":" string-0-300 "}"',
    );
    assert.equal(rules.get('root-decision'), '"\\"advance\\"" | "\\"maybe\\"" | "\\"reject\\""');
    assert.equal(rules.get('root-strengths'), '"[" (string-0-60 ("," string-0-60){0,2})? "]"');
    assert.equal(rules.get('string-0-60'), '"\\"" char{0,60} "\\""');
    assert.doesNotMatch(grammar, /\[ \\t\\n\]|ws/, 'no optional whitespace');
  });

  it("takes out the opening every answer starts with, where the root object's first key is required", () => {
    assert.deepEqual(answerGrammar(SCORE_ONLY), {
      opening: '{"score":',
      grammar: ['root ::= root-score "}"', 'root-score ::= [0-9] | [1-9] [0-9] | "100"', ''].join('\n'),
    });
    const sample = answerGrammar(readSampleJob().schema);
    assert.equal(sample.opening, '{"score":');
    assert.match(sample.grammar, /^root ::= root-score "," "\\"decision\\":" root-decision /);
    // The rest of the grammar is the whole grammar's.
    const rest = (grammar: string): string => grammar.split('\n').slice(1).join('\n');
    assert.equal(rest(sample.grammar), rest(jsonSchemaToGbnf(readSampleJob().schema)));
    // No forced opening: an optional first key, a type list, a nested object, a root that is no object.
    const none = [
      { type: 'object', properties: { a: { type: 'boolean' }, b: { type: 'null' } }, required: ['b'] },
      { type: ['object', 'null'], properties: { a: { type: 'boolean' } }, required: ['a'] },
      { type: 'integer', minimum: 0, maximum: 9 },
      { type: 'object', properties: {}, additionalProperties: false },
    ];
    for (const schema of none)
      assert.deepEqual(answerGrammar(schema), { opening: '', grammar: jsonSchemaToGbnf(schema) });
    const nested = answerGrammar({
      type: 'object',
      properties: {
        a: { type: 'boolean' },
        b: { type: 'object', properties: { c: { type: 'null' } }, required: ['c'] },
      },
      required: ['b'],
    });
    assert.equal(nested.opening, '');
    assert.match(nested.grammar, /"\\"c\\":"/, 'the nested object keeps its key');
  });

  it('makes optional properties optional, with their commas right', () => {
    const grammar = jsonSchemaToGbnf({
      type: 'object',
      properties: { a: { type: 'boolean' }, b: { type: 'null' }, c: { const: 'x' } },
      required: ['b'],
    });
    const root = gbnfRegExp(
      rootExpression(grammar.replace(/\nboolean ::= .*/, '')).replaceAll('boolean', '("true" | "false")'),
    );
    for (const text of ['{"b":null}', '{"a":true,"b":null}', '{"b":null,"c":"x"}', '{"a":false,"b":null,"c":"x"}']) {
      assert.ok(root.test(text), text);
    }
    for (const text of ['{}', '{"a":true}', '{,"b":null}', '{"b":null,}', '{"b":null,"a":true}', '{"b": null}']) {
      assert.ok(!root.test(text), text);
    }
  });

  it('writes type lists, anyOf, recursive $defs and nested arrays as rules', () => {
    const grammar = jsonSchemaToGbnf({
      type: 'object',
      properties: {
        name: { type: ['string', 'null'], minLength: 1, maxLength: 3 },
        tags: {
          type: 'array',
          items: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 3 } },
          minItems: 1,
        },
        tree: { $ref: '#/$defs/node' },
      },
      required: ['name', 'tags', 'tree'],
      $defs: {
        node: { type: 'object', properties: { next: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] } } },
      },
    });
    assert.match(grammar, /^root-name ::= string-1-3 \| "null"$/m);
    assert.match(grammar, /^string-1-3 ::= "\\"" char\{1,3\} "\\""$/m);
    assert.match(grammar, /^root-tags ::= "\[" root-tags-item \("," root-tags-item\)\* "\]"$/m);
    assert.match(grammar, /^def-node ::= "\{" \("\\"next\\":" def-node-next\)\? "\}"$/m);
    assert.match(grammar, /^def-node-next ::= def-node \| "null"$/m);
  });

  it('refuses what it cannot keep, naming where, so the engine falls back', () => {
    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{ type: 'string', pattern: '^a+$' }, /root: keyword "pattern"/],
      [
        { type: 'object', properties: { when: { type: 'string', format: 'date-time' } } },
        /root\.when: keyword "format"/,
      ],
      [{ type: 'object', properties: { any: {} } }, /root\.any: no type/],
      [{ allOf: [{ type: 'string' }] }, /keyword "allOf"/],
      [{ $ref: 'https://example.com/schema.json' }, /\$ref/],
      [{ type: 'object' }, /without properties/],
      [{ type: 'object', properties: {}, required: ['x'] }, /required key "x"/],
      [{ type: 'integer', minimum: 3, maximum: 2 }, /no integer/],
      [{ type: 'number', minimum: 0.2, maximum: 0.8 }, /narrower than a unit interval/],
      [{ type: 'array', items: [{ type: 'string' }] }, /items must be one schema/],
    ];
    for (const [schema, reason] of refused) {
      assert.throws(
        () => jsonSchemaToGbnf(schema),
        (error: unknown) => error instanceof UnsupportedSchemaError && reason.test(error.message),
        JSON.stringify(schema),
      );
    }
  });
});

describe('llama-cpp engine under its own grammar (tiny random model, 200 answers per case)', function () {
  this.timeout(900_000);
  let engine: LlamaCppEngine;
  const job = readSampleJob();
  // A short prompt (the rubric's first sentences): the grammar, not the prompt, is under test.
  const system = job.rubric.slice(0, job.rubric.indexOf('. ', 200) + 1);

  before(async () => {
    engine = await LlamaCppEngine.load({ modelPath: await tinyModelPath(), slots: 1, threads: 1, contextSize: 4096 });
  });
  after(async () => {
    await engine?.close();
  });

  it("falls back to node-llama-cpp's grammar for a schema it cannot convert (a pattern)", async () => {
    const schema = {
      type: 'object',
      properties: { code: { type: 'string', pattern: '^[A-Z]+$', maxLength: 5 } },
      required: ['code'],
    };
    assert.throws(() => jsonSchemaToGbnf(schema), UnsupportedSchemaError);
    const result = await engine.chat(
      {
        model: 'tiny',
        messages: [{ role: 'user', content: 'A code.' }],
        format: schema,
        temperature: 0,
        maxTokens: 64,
      },
      never(),
    );
    assert.equal(result.finishReason, 'stop', result.content);
    assert.equal(typeof (JSON.parse(result.content) as { code: unknown }).code, 'string', result.content);
  });

  for (const [label, schema, maxTokens] of [
    ['score-only', SCORE_ONLY, 16],
    ['sample answer', job.schema, maxAnswerBytes(job.schema) + 1],
  ] as const) {
    for (const temperature of [0, 1]) {
      it(`${label} schema at temperature ${temperature}: every answer inside the schema, none cut (max_tokens ${maxTokens})`, async () => {
        assert.ok(maxAnswerBytes(schema) + 1 <= maxTokens, 'max_tokens covers the longest answer the grammar allows');
        const scores = new Set<unknown>();
        for (let i = 0; i < 200; i++) {
          const result = await engine.chat(
            {
              model: 'tiny',
              messages: [
                { role: 'system', content: system },
                { role: 'user', content: `Candidate C${i}: ${i % 17} years of experience, skills ${i * 7919}.` },
              ],
              format: schema,
              temperature,
              maxTokens,
              seed: i,
            },
            never(),
          );
          assert.equal(result.finishReason, 'stop', `cut at ${result.completionTokens} tokens: ${result.content}`);
          const check = checkAnswer(result.content, schema);
          assert.ok(check.valid, `${check.valid ? '' : check.reason}: ${result.content}`);
          assert.doesNotMatch(result.content.replace(/"(?:[^"\\]|\\.)*"/g, '""'), /\s/, 'compact JSON');
          scores.add((check.value as { score: unknown }).score);
        }
        if (temperature > 0) assert.ok(scores.size > 10, `scores spread over the range: ${[...scores].join(' ')}`);
      });
    }
  }
});

import assert from 'node:assert/strict';
import { answerSchema, checkAnswer } from '../../server/openai/answer-check.js';

const SCHEMA = {
  type: 'object',
  required: ['score', 'decision'],
  additionalProperties: false,
  properties: {
    score: { type: 'integer', minimum: 0, maximum: 100 },
    decision: { enum: ['yes', 'no'] },
    evidence: { type: 'object', required: ['quote'], properties: { quote: { type: 'string', pattern: '^[A-Z]' } } },
    weight: { type: 'number', exclusiveMinimum: 0 },
    contact: { type: 'string', format: 'email' },
  },
};

describe('checkAnswer', () => {
  it('takes an answer inside the schema', () => {
    assert.deepEqual(checkAnswer('{"score":50,"decision":"yes"}', SCHEMA), {
      valid: true,
      value: { score: 50, decision: 'yes' },
    });
  });

  const broken: Array<[string, string, RegExp]> = [
    ['a score above its maximum', '{"score":944,"decision":"no"}', /^score must be <= 100/],
    ['a score in exponent notation past the maximum', '{"score":8e94,"decision":"no"}', /^score must be <= 100/],
    ['a fractional integer', '{"score":5.5,"decision":"no"}', /^score must be integer/],
    [
      'a value outside the enum',
      '{"score":5,"decision":"perhaps"}',
      /^decision must be equal to one of the allowed values: \["yes","no"\]/,
    ],
    ['a missing required key', '{"score":5}', /^answer must have required property 'decision'/],
    ['an extra key', '{"score":5,"decision":"no","x":1}', /additional properties/],
    [
      'a nested required key',
      '{"score":5,"decision":"no","evidence":{}}',
      /^evidence must have required property 'quote'/,
    ],
    ['a pattern', '{"score":5,"decision":"no","evidence":{"quote":"lower"}}', /^evidence\.quote must match pattern/],
    ['exclusiveMinimum', '{"score":5,"decision":"no","weight":0}', /^weight must be > 0/],
    ['a format', '{"score":5,"decision":"no","contact":"nobody"}', /^contact must match format "email"/],
  ];
  for (const [what, answer, reason] of broken) {
    it(`refuses ${what} as invalid, saying why`, () => {
      const check = checkAnswer(answer, SCHEMA);
      assert.equal(check.valid, false);
      if (check.valid) return;
      assert.equal(check.kind, 'invalid');
      assert.match(check.reason, reason);
    });
  }

  it('calls text that is not JSON unparseable, showing its start', () => {
    const check = checkAnswer('{"score":6e666', SCHEMA);
    assert.deepEqual(check, { valid: false, kind: 'unparseable', reason: 'not JSON: "{\\"score\\":6e666"' });
  });

  it('reads a fenced answer as the analysis does, and checks it all the same', () => {
    assert.equal(checkAnswer('```json\n{"score":50,"decision":"yes"}\n```', SCHEMA).valid, true);
    const check = checkAnswer('```json\n{"score":150,"decision":"yes"}\n```', SCHEMA);
    assert.equal(check.valid ? 'valid' : check.kind, 'invalid');
  });

  it('takes any JSON without a schema, and nothing that is not JSON', () => {
    assert.equal(checkAnswer('[1,2]').valid, true);
    assert.equal(checkAnswer('').valid, false);
  });

  it('makes every answer invalid when the schema itself does not compile', () => {
    const check = checkAnswer('{}', { type: 'bogus' });
    assert.equal(check.valid, false);
    if (!check.valid) assert.match(check.reason, /^the answer schema does not compile/);
  });

  it('reads the schema from a json_schema response_format only', () => {
    assert.equal(answerSchema({ response_format: { type: 'json_object' } }), undefined);
    assert.deepEqual(
      answerSchema({ response_format: { type: 'json_schema', json_schema: { schema: SCHEMA } } }),
      SCHEMA,
    );
  });
});

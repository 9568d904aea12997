// What a run does with answers to JSON requests: which it checks, the body of a retry (a new
// sample even at temperature 0), and the pilot check's verdict and the reason it pauses with.
import assert from 'node:assert/strict';
import { checkRequested, PilotCheck, retryBody, RETRY_TEMPERATURE } from '../../server/batches/answer-checks.js';
import { checkAnswer } from '../../server/openai/answer-check.js';
import type { ChatCompletionBody } from '../../server/protocol/openai.js';

const SCHEMA = {
  type: 'object',
  properties: { score: { type: 'integer', minimum: 0, maximum: 100 } },
  required: ['score'],
};
const body = (extra: Partial<ChatCompletionBody> = {}): ChatCompletionBody => ({
  model: 'tiny',
  messages: [{ role: 'user', content: 'score this' }],
  ...extra,
});
const schemaFormat = { type: 'json_schema', json_schema: { name: 'answer', schema: SCHEMA } } as const;

describe('answer checks in a run', () => {
  it('checks answers to json_schema and json_object requests, not to text ones', () => {
    assert.deepEqual(checkRequested(body({ response_format: schemaFormat }), '{"score":150}'), {
      valid: false,
      kind: 'invalid',
      reason: 'score must be <= 100',
    });
    assert.equal(checkRequested(body({ response_format: schemaFormat }), '{"score":42}')?.valid, true);
    assert.equal(checkRequested(body({ response_format: { type: 'json_object' } }), '{"any":1}')?.valid, true);
    assert.deepEqual(checkRequested(body({ response_format: { type: 'json_object' } }), 'no JSON'), {
      valid: false,
      kind: 'unparseable',
      reason: 'not JSON: "no JSON"',
    });
    assert.equal(checkRequested(body(), 'plain text'), null);
    assert.equal(checkRequested(body({ response_format: { type: 'text' } }), 'plain text'), null);
  });

  it('retries as a new sample: the next seed, and above temperature 0, where greedy decoding would repeat itself', () => {
    assert.deepEqual(retryBody(body({ temperature: 0, seed: 7 })), body({ temperature: RETRY_TEMPERATURE, seed: 8 }));
    assert.deepEqual(retryBody(body()), body({ temperature: RETRY_TEMPERATURE }), 'no seed: the engine draws one');
    assert.deepEqual(retryBody(body({ temperature: 1.2, seed: 1 })), body({ temperature: 1.2, seed: 2 }));
  });

  it('passes when at most the allowed share of the first answers is invalid, with the verdict at the last one', () => {
    const pilot = new PilotCheck({ answers: 10, maxInvalidShare: 0.2 });
    const valid = checkAnswer('{"score":1}', SCHEMA);
    const invalid = checkAnswer('{"score":101}', SCHEMA);
    for (let index = 0; index < 9; index++) assert.equal(pilot.add(index < 2 ? invalid : valid), null);
    assert.deepEqual(pilot.add(valid), { passed: true, answers: 10, invalid: 2 });
  });

  it('fails above it, naming how many, the most common reason, and what to do', () => {
    const pilot = new PilotCheck({ answers: 10, maxInvalidShare: 0.2 });
    const answers = [
      ...Array<string>(4).fill('{"score":101}'),
      '{"score":-1}',
      '{"score":6e66',
      ...Array<string>(4).fill('{"score":3}'),
    ];
    const verdicts = answers.map((answer) => pilot.add(checkAnswer(answer, SCHEMA)));
    assert.deepEqual(verdicts.slice(0, 9), Array(9).fill(null));
    assert.deepEqual(verdicts[9], {
      passed: false,
      answers: 10,
      invalid: 6,
      reason:
        'pilot check: 6 of 10 answers break their schema (1 not JSON; most often: score must be <= 100; at most 20% may): fix the rubric or the schema, then resume or cancel the batch',
    });
  });
});

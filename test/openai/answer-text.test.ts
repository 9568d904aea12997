// Structured answers: JSON as it is, in a fence, slightly broken and safely repaired; anything
// that would need a guess is unparseable.
import assert from 'node:assert/strict';
import { parseAnswer } from '../../server/openai/answer-text.js';

const parsed = (content: string) => {
  const result = parseAnswer(content);
  assert.equal(result.kind, 'parsed', content);
  return result as { fields: Record<string, unknown>; repaired: boolean };
};

describe('structured answers', () => {
  it('parses a JSON object as it is, not counted as repaired', () => {
    const result = parsed('  {"score": 80, "decision": "advance", "strengths": ["a", "b"]}\n');
    assert.deepEqual(result.fields, { score: 80, decision: 'advance', strengths: ['a', 'b'] });
    assert.equal(result.repaired, false);
  });

  it('takes the object out of a ```json fence, with or without the language, with prose around', () => {
    for (const content of [
      '```json\n{"score": 7}\n```',
      'Here you go:\n```\n{"score": 7}\n```\nThanks!',
      '```JSON {"score": 7}```',
    ]) {
      const result = parsed(content);
      assert.deepEqual(result.fields, { score: 7 });
      assert.equal(result.repaired, false, content);
    }
  });

  it('repairs trailing commas, prose around the object and trailing garbage', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['{"score": 5, "tags": ["x", "y",],}', { score: 5, tags: ['x', 'y'] }],
      [
        'Sure! Here is my answer: {"score": 5, "reason": "has {braces} and \\"quotes\\""} Hope that helps.',
        { score: 5, reason: 'has {braces} and "quotes"' },
      ],
      ['{"score": 5}}', { score: 5 }],
      ['{"score": 5}x', { score: 5 }],
      ['```json\n{"score": 5,}\n```', { score: 5 }],
    ];
    for (const [content, fields] of cases) {
      const result = parsed(content);
      assert.deepEqual(result.fields, fields, content);
      assert.equal(result.repaired, true, content);
    }
  });

  it('adds one missing final brace or bracket after a complete value', () => {
    assert.deepEqual(parsed('{"decision": "advance", "reason": "fine"').fields, {
      decision: 'advance',
      reason: 'fine',
    });
    assert.deepEqual(parsed('{"ok": true').fields, { ok: true });
    assert.deepEqual(parsed('{"tags": ["a", "b"]').fields, { tags: ['a', 'b'] });
    assert.deepEqual(parsed('```json\n{"score": 3, "tags": ["a"]\n```').fields, { score: 3, tags: ['a'] });
  });

  it('does not guess: a cut string, a trailing number or comma, two missing closers, no object', () => {
    for (const content of [
      '{"score": 80, "reason": "the candidate has',
      '{"score": 8',
      '{"score": 80,',
      '{"tags": ["a", "b"',
      '{"score": }',
      '{"score": 80 "decision": "x"}',
      'score: 80, decision: advance',
      '[1, 2, 3]',
      '42',
      '{"a": [1}',
      '```json\n```',
    ]) {
      assert.deepEqual(parseAnswer(content), { kind: 'unparseable' }, content);
    }
  });

  it('calls blank and missing content empty', () => {
    for (const content of ['', '   \n ', null, undefined]) assert.deepEqual(parseAnswer(content), { kind: 'empty' });
  });
});

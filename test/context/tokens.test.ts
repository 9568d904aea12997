// Token counts for the pre-run estimate: exact o200k counts, the chat template's overhead, the
// calibration factor, and the fast counter for templates against exact counts.
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { PromptCounter } from '../../server/context/budget.js';
import {
  calibrated,
  countTextTokens,
  REPLY_PRIMING_TOKENS,
  SAFETY_MARGIN,
  TemplateTokenCounter,
  TOKENS_PER_MESSAGE,
} from '../../server/context/tokens.js';
import { compileTemplate, renderTemplate } from '../../server/csv/template.js';
import { candidatesCsv } from '../fixtures/recruiting/candidates.js';
import { readSampleJob } from '../fixtures/recruiting/sample-job.js';

describe('token counting', () => {
  it('counts text with o200k_base, special-token text included as plain text', () => {
    assert.equal(countTextTokens(''), 0);
    assert.equal(countTextTokens('hello world'), 2);
    assert.ok(countTextTokens('a <|endoftext|> b') > 3);
  });

  it('counts long text in segments: exact for prose, linear for runs without spaces', function () {
    // Unsegmented, the tokenizer takes minutes on 200,000 characters of one pre-token.
    this.timeout(5000);
    const prose = candidatesCsv({ rows: 1000 });
    assert.equal(countTextTokens(prose), countTokens(prose));
    const japanese = '美咲は東京で働いている'.repeat(20_000);
    assert.ok(Math.abs(countTextTokens(japanese) / (1000 * countTextTokens(japanese.slice(0, 220))) - 1) < 0.02);
    const run = 'x'.repeat(200_000);
    assert.ok(Math.abs(countTextTokens(run) / (100 * countTextTokens(run.slice(0, 2000))) - 1) < 0.02);
  });

  it('adds the chat template: tokens per message and the reply priming', () => {
    const messages = [
      { role: 'system' as const, content: 'You score texts.' },
      { role: 'user' as const, content: 'hello world' },
    ];
    const contents = countTextTokens('You score texts.') + countTextTokens('hello world');
    assert.equal(new PromptCounter().messages(messages), contents + 2 * TOKENS_PER_MESSAGE + REPLY_PRIMING_TOKENS);
  });

  it('scales by a learned factor, else by the safety margin, rounding up', () => {
    assert.equal(SAFETY_MARGIN, 1.15);
    assert.equal(calibrated(100), 115);
    assert.equal(calibrated(100, 1.021), 103);
    assert.equal(calibrated(0), 0);
  });

  it('counts filled templates within a few percent of exact counts, line by line and in all', () => {
    const [header, ...rows] = parse(candidatesCsv({ rows: 1000 }));
    const template = compileTemplate(readSampleJob().template, header!);
    const counter = new TemplateTokenCounter(template.statics);
    let exactTotal = 0;
    let fastTotal = 0;
    for (const row of rows) {
      const exact = countTextTokens(renderTemplate(template, row));
      const fast = counter.count(row, template.slots);
      assert.ok(Math.abs(fast - exact) <= Math.max(3, 0.12 * exact), `${row[0]}: ${fast} against ${exact}`);
      exactTotal += exact;
      fastTotal += fast;
    }
    assert.ok(Math.abs(fastTotal / exactTotal - 1) < 0.03, `${fastTotal} against ${exactTotal}`);
  });

  it('estimates a column of unique values (ids) from a sample, within a few percent', () => {
    const template = compileTemplate('Ticket {{id}}: {{text}}', ['id', 'text']);
    const counter = new TemplateTokenCounter(template.statics);
    let exactTotal = 0;
    let fastTotal = 0;
    for (let index = 0; index < 5000; index++) {
      const row = [
        `T-${(index * 7919).toString(36)}-${index}`,
        index % 3 === 0 ? 'printer is on fire' : 'cannot log in',
      ];
      exactTotal += countTextTokens(renderTemplate(template, row));
      fastTotal += counter.count(row, template.slots);
    }
    assert.ok(Math.abs(fastTotal / exactTotal - 1) < 0.05, `${fastTotal} against ${exactTotal}`);
  });
});

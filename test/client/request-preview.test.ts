// The first request as Convert shows it before writing: from a real conversion of the sample job.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderRequest } from '../../client/model/request-preview.js';
import { convertCsv } from '../../server/csv/convert.js';
import { candidatesCsv } from '../fixtures/recruiting/candidates.js';
import { readSampleJob } from '../fixtures/recruiting/sample-job.js';
import { tempDir } from '../support/batch-files.js';

describe('Convert: the rendered first request', () => {
  it('shows each message as the model gets it, the answer settings, and the line itself', async () => {
    const input = join(tempDir(), 'candidates.csv');
    writeFileSync(input, candidatesCsv({ rows: 3 }));
    const job = readSampleJob();
    const report = await convertCsv({
      input,
      model: 'tiny',
      systemPrompt: job.rubric,
      template: job.template,
      idColumn: 'candidate_id',
      schema: job.schema,
      maxTokens: 300,
    });
    const line = report.sample!;
    const text = renderRequest(line, 'candidates.csv');
    const [system, user] = line.body.messages.map((message) => message.content as string);
    assert.ok(text.startsWith('# The first request of candidates.csv\n'));
    assert.match(text, /^custom_id `C000001`: model `tiny`, max_tokens 300, answers follow the JSON schema/m);
    assert.ok(text.includes(`## system\n\n\`\`\`text\n${system}\n\`\`\``), 'the rubric, whole');
    assert.ok(text.includes(`## user\n\n\`\`\`text\n${user}\n\`\`\``), 'the rendered template, whole');
    const json = /## The line as written\n\n```json\n([\s\S]*)\n```\n$/.exec(text)![1]!;
    assert.deepEqual(JSON.parse(json), line);
  });

  it('keeps a fence longer than any run of backticks in a message', () => {
    const line = {
      custom_id: 'a',
      method: 'POST' as const,
      url: '/v1/chat/completions',
      body: { model: 'm', messages: [{ role: 'user' as const, content: 'see ```code``` here' }] },
    };
    const text = renderRequest(line, 'x.csv');
    assert.ok(text.includes('````text\nsee ```code``` here\n````'));
    assert.match(text, /max_tokens not set/);
  });
});

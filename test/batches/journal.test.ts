// The output and error files are the journal: a torn last line is cut, the rest is kept.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { recoverJournal } from '../../server/batches/journal.js';
import { tempDir } from '../support/batch-files.js';
import { join } from 'node:path';

const entry = (id: string, promptTokens: number) =>
  JSON.stringify({
    id: `batch_req_${id}`,
    custom_id: id,
    response: {
      status_code: 200,
      request_id: 'req_1',
      body: {
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: 2,
          total_tokens: promptTokens + 2,
          prompt_tokens_details: { cached_tokens: 1 },
          completion_tokens_details: { reasoning_tokens: 1 },
        },
      },
    },
    error: null,
  });

describe('journal recovery', () => {
  it('cuts a torn last line and reads the ids and usage of the rest', async () => {
    const path = join(tempDir(), 'output.jsonl');
    const whole = `${entry('a', 10)}\n${entry('b', 20)}\n`;
    writeFileSync(path, whole + entry('c', 30).slice(0, 25));
    const recovered = await recoverJournal(path);
    assert.deepEqual([...recovered.ids], ['a', 'b']);
    assert.equal(recovered.lines, 2);
    assert.deepEqual(recovered.usage, { promptTokens: 30, cachedTokens: 2, completionTokens: 4, reasoningTokens: 2 });
    assert.equal(readFileSync(path, 'utf8'), whole);
  });

  it('cuts a file that is one torn line to empty, and creates a missing file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'torn.jsonl'), '{"id":"batch_req_1","custom_');
    assert.equal((await recoverJournal(join(dir, 'torn.jsonl'))).lines, 0);
    assert.equal(readFileSync(join(dir, 'torn.jsonl'), 'utf8'), '');
    assert.equal((await recoverJournal(join(dir, 'new.jsonl'))).lines, 0);
  });

  it('finds the last newline beyond the read chunk', async () => {
    const path = join(tempDir(), 'long.jsonl');
    writeFileSync(path, `${entry('a', 1)}\n${'{"x":"' + 'y'.repeat(200_000)}`);
    const recovered = await recoverJournal(path);
    assert.deepEqual([...recovered.ids], ['a']);
  });
});

// Assertions that output and error lines and Batch objects have OpenAI's shapes, and that a
// finished batch accounts for every custom_id exactly once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BatchOutputLine } from '../../server/openai/types.js';
import type { Batch } from '../../server/protocol/openai.js';

export function readJsonl<T = unknown>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

export function assertSuccessLine(line: BatchOutputLine): void {
  assert.match(line.id, /^batch_req_/);
  assert.equal(typeof line.custom_id, 'string');
  assert.equal(line.error, null);
  assert.ok(line.response);
  assert.equal(line.response.status_code, 200);
  assert.match(line.response.request_id, /^req_/);
  const body = line.response.body;
  assert.ok('choices' in body, 'a success body is a chat.completion');
  assert.equal(body.object, 'chat.completion');
  assert.match(body.id, /^chatcmpl-/);
  assert.equal(typeof body.created, 'number');
  assert.equal(typeof body.model, 'string');
  assert.equal(body.choices.length, 1);
  assert.equal(body.choices[0]!.index, 0);
  assert.equal(body.choices[0]!.message.role, 'assistant');
  assert.equal(typeof body.choices[0]!.message.content, 'string');
  assert.ok(['stop', 'length'].includes(body.choices[0]!.finish_reason));
  assert.ok(body.usage.prompt_tokens > 0, 'prompt tokens are counted');
  assert.ok(body.usage.completion_tokens >= 0);
  assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
  assert.ok(line.ollama_batch, 'the daemon records how the request ran');
  assert.ok(line.ollama_batch.latency_ms > 0 && line.ollama_batch.attempts >= 1);
}

export function assertErrorLine(line: BatchOutputLine): void {
  assert.match(line.id, /^batch_req_/);
  assert.equal(typeof line.custom_id, 'string');
  if (line.response) {
    assert.equal(line.error, null);
    assert.ok(line.response.status_code >= 400);
    assert.ok('error' in line.response.body);
    const error = line.response.body.error;
    for (const key of ['message', 'type', 'param', 'code'] as const) assert.ok(key in error, `error.${key} present`);
  } else {
    assert.ok(line.error);
    assert.equal(typeof line.error.code, 'string');
    assert.equal(typeof line.error.message, 'string');
  }
}

const BATCH_FIELDS = [
  'id',
  'object',
  'endpoint',
  'errors',
  'input_file_id',
  'completion_window',
  'status',
  'output_file_id',
  'error_file_id',
  'created_at',
  'in_progress_at',
  'expires_at',
  'finalizing_at',
  'completed_at',
  'failed_at',
  'expired_at',
  'cancelling_at',
  'cancelled_at',
  'request_counts',
  'metadata',
  'model',
  'usage',
] as const;

export function assertBatchShape(batch: Batch): void {
  for (const field of BATCH_FIELDS) assert.ok(field in batch, `batch.${field} present`);
  assert.equal(batch.object, 'batch');
  assert.match(batch.id, /^batch_/);
  assert.deepEqual(Object.keys(batch.request_counts).sort(), ['completed', 'failed', 'total']);
}

/** How written lines account for the input's custom_ids: those missing, written more than once, or not in the input. */
export function tallyCustomIds(
  inputIds: string[],
  lines: BatchOutputLine[],
): { missing: string[]; twice: string[]; unknown: string[] } {
  const seen = new Map<string, number>();
  for (const line of lines) seen.set(line.custom_id, (seen.get(line.custom_id) ?? 0) + 1);
  const known = new Set(inputIds);
  return {
    missing: inputIds.filter((id) => !seen.has(id)),
    twice: [...seen].filter(([, count]) => count > 1).map(([id]) => id),
    unknown: [...seen.keys()].filter((id) => !known.has(id)),
  };
}

/**
 * Every input custom_id is in exactly one of the two files, no other id is, and the batch's
 * request_counts match the files.
 */
export function assertExactlyOnce(
  inputIds: string[],
  outputPath: string | null,
  errorPath: string | null,
  batch?: Batch,
): { output: BatchOutputLine[]; errors: BatchOutputLine[] } {
  // No file where no line went (OpenAI's null output_file_id or error_file_id).
  const output = outputPath === null ? [] : readJsonl<BatchOutputLine>(outputPath);
  const errors = errorPath === null ? [] : readJsonl<BatchOutputLine>(errorPath);
  const { missing, twice, unknown } = tallyCustomIds(inputIds, [...output, ...errors]);
  assert.deepEqual(twice, [], 'no custom_id is written twice');
  assert.deepEqual(missing, [], 'every custom_id is written');
  assert.deepEqual(unknown, [], 'no unknown custom_id is written');
  if (batch) {
    assert.equal(batch.request_counts.total, inputIds.length);
    assert.equal(batch.request_counts.completed, output.length);
    assert.equal(batch.request_counts.failed, errors.length);
  }
  return { output, errors };
}

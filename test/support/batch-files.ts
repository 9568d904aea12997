// Batch input files for tests and benchmarks: OpenAI-format lines with a shared system prompt.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BatchFileOptions {
  model: string;
  systemPrompt?: string;
  maxTokens?: number;
  prefix?: string;
  schema?: Record<string, unknown>;
}

export function requestLine(index: number, options: BatchFileOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: options.model,
    messages: [
      { role: 'system', content: options.systemPrompt ?? 'You score short texts. Answer briefly.' },
      { role: 'user', content: `Text number ${index}: the quick brown fox ${index % 7} jumps over the lazy dog.` },
    ],
    max_tokens: options.maxTokens ?? 8,
    temperature: 0,
    seed: index,
  };
  if (options.schema)
    body.response_format = { type: 'json_schema', json_schema: { name: 'answer', schema: options.schema } };
  return { custom_id: `${options.prefix ?? 'req'}-${index}`, method: 'POST', url: '/v1/chat/completions', body };
}

export function batchLines(count: number, options: BatchFileOptions): string {
  let text = '';
  for (let index = 1; index <= count; index++) text += JSON.stringify(requestLine(index, options)) + '\n';
  return text;
}

export function tempDir(prefix = 'ollama-batch-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `content` into a fresh temp dir and returns its path. */
export function writeTempFile(name: string, content: string | Buffer): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  return path;
}

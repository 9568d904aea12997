// The parts of an answer beside its text, as engines give them: token log probabilities (Ollama's
// and OpenAI-compatible servers' shapes, both {token, logprob, bytes?, top_logprobs?}) into
// OpenAI's, and the tokens spent thinking where the engine does not count them apart.
import type { TokenLogprob } from '../openai/types.js';
import { isJsonObject } from './errors.js';

type Alternative = TokenLogprob['top_logprobs'][number];

function alternativeOf(entry: unknown): Alternative | undefined {
  if (!isJsonObject(entry) || typeof entry.token !== 'string' || typeof entry.logprob !== 'number') return undefined;
  const bytes = Array.isArray(entry.bytes) && entry.bytes.every(Number.isInteger) ? (entry.bytes as number[]) : null;
  // OpenAI gives every token's UTF-8 bytes; Ollama leaves them out where empty.
  return { token: entry.token, logprob: entry.logprob, bytes: bytes ?? [...Buffer.from(entry.token, 'utf8')] };
}

/** An engine's per-token log probabilities in OpenAI's shape; undefined where it gave none (malformed entries are left out). */
export function tokenLogprobs(entries: unknown): TokenLogprob[] | undefined {
  if (!Array.isArray(entries)) return undefined;
  const tokens: TokenLogprob[] = [];
  for (const entry of entries) {
    const token = alternativeOf(entry);
    if (!token) continue;
    const top = (entry as Record<string, unknown>).top_logprobs;
    const alternatives = Array.isArray(top)
      ? top.map(alternativeOf).filter((alternative) => alternative !== undefined)
      : [];
    tokens.push({ ...token, top_logprobs: alternatives });
  }
  return tokens;
}

/**
 * The thinking's share of the generated tokens, by length: for engines that count thinking and
 * answer together (Ollama's eval_count), so that reasoning_tokens is not 0 when the model thought.
 */
export function reasoningShare(completionTokens: number, thinking: string, content: string): number {
  if (thinking.length === 0) return 0;
  return Math.round((completionTokens * thinking.length) / (thinking.length + content.length));
}

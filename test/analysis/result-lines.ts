// Batch output and error lines in OpenAI's format, for the analysis tests.
import { RequestLineFormat } from '../../server/csv/request-lines.js';
import type { BatchOutputLine, TokenLogprob } from '../../server/openai/types.js';

export interface SuccessOptions {
  finishReason?: 'stop' | 'length';
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
  /** Our extension field; left out when undefined. */
  latencyMs?: number;
  /** choices[0].logprobs.content, as an engine asked for logprobs writes it. */
  logprobs?: TokenLogprob[];
}

export function success(customId: string, content: string, options: SuccessOptions = {}): string {
  const promptTokens = options.promptTokens ?? 100;
  const completionTokens = options.completionTokens ?? 20;
  const line: BatchOutputLine & { ollama_batch?: { latency_ms: number; attempts: number } } = {
    id: `batch_req_${customId}`,
    custom_id: customId,
    response: {
      status_code: 200,
      request_id: `req_${customId}`,
      body: {
        id: `chatcmpl-${customId}`,
        object: 'chat.completion',
        created: 1_700_000_000,
        model: 'tiny',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content, refusal: null },
            logprobs: options.logprobs ? { content: options.logprobs } : null,
            finish_reason: options.finishReason ?? 'stop',
          },
        ],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
          prompt_tokens_details: { cached_tokens: options.cachedTokens ?? 0 },
        },
        system_fingerprint: null,
      },
    },
    error: null,
  };
  if (options.latencyMs !== undefined) line.ollama_batch = { latency_ms: options.latencyMs, attempts: 1 };
  return JSON.stringify(line);
}

/**
 * The tokens of an answer with their logprobs: a string is a token the model was sure of (no
 * alternatives); a [token, alternatives] pair gives the probability of each alternative, the
 * chosen token among them.
 */
export function tokens(parts: Array<string | [string, Record<string, number>]>): TokenLogprob[] {
  const bytes = (text: string): number[] => [...Buffer.from(text)];
  return parts.map((part) => {
    const [token, alternatives] = typeof part === 'string' ? [part, { [part]: 1 }] : part;
    const top = Object.entries(alternatives).map(([text, p]) => ({
      token: text,
      logprob: Math.log(p),
      bytes: bytes(text),
    }));
    return {
      token,
      logprob: Math.log(alternatives[token]!),
      bytes: bytes(token),
      top_logprobs: typeof part === 'string' ? [] : top,
    };
  });
}

/** An error-file line for a request that never got a response, e.g. batch_cancelled. */
export function failure(customId: string, code: string, message = `${code} happened`): string {
  const line: BatchOutputLine = {
    id: `batch_req_${customId}`,
    custom_id: customId,
    response: null,
    error: { code, message },
  };
  return JSON.stringify(line);
}

/** An error-file line for a request the engine answered with an HTTP error. */
export function httpFailure(
  customId: string,
  statusCode: number,
  error: { code: string | null; type: string; message: string },
): string {
  const line: BatchOutputLine = {
    id: `batch_req_${customId}`,
    custom_id: customId,
    response: { status_code: statusCode, request_id: `req_${customId}`, body: { error: { ...error, param: null } } },
    error: null,
  };
  return JSON.stringify(line);
}

/** Batch input lines as convert writes them, each asking for answers that follow `schema`. */
export function requestLines(customIds: string[], schema: Record<string, unknown>): string {
  const format = new RequestLineFormat({ model: 'tiny', schema });
  return customIds.map((id) => format.line(JSON.stringify(id), JSON.stringify(`profile of ${id}`))).join('');
}

/** A structured answer as the model would write it. */
export const answer = (fields: Record<string, unknown>): string => JSON.stringify(fields);

/** numpy's default percentile (linear between closest ranks), written out again for the tests. */
export function referencePercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (p / 100) * (sorted.length - 1);
  const below = sorted[Math.floor(position)]!;
  const above = sorted[Math.ceil(position)]!;
  return below + (above - below) * (position - Math.floor(position));
}

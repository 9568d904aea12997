// OpenAI chat body → engine request, and engine result → OpenAI chat.completion body.
import { uniqueId } from '../ids/unique-id.js';
import type { ChatCompletion } from '../openai/types.js';
import type { ChatCompletionBody } from '../protocol/openai.js';
import type { ChatRequest, ChatResult } from './engine.js';

/** `model`: the name the engine serves the body's model under (a model alias's target). */
export function toChatRequest(body: ChatCompletionBody, numCtx?: number, model = body.model): ChatRequest {
  const request: ChatRequest = { model, messages: body.messages };
  if (body.temperature !== undefined) request.temperature = body.temperature;
  if (body.top_p !== undefined) request.topP = body.top_p;
  if (body.seed !== undefined) request.seed = body.seed;
  if (body.stop !== undefined) request.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined) request.maxTokens = maxTokens;
  const format = body.response_format;
  if (format?.type === 'json_object') request.format = 'json';
  if (format?.type === 'json_schema') request.format = format.json_schema.schema;
  if (numCtx !== undefined) request.numCtx = numCtx;
  return request;
}

export function toChatCompletion(result: ChatResult, created = Math.floor(Date.now() / 1000)): ChatCompletion {
  const completion: ChatCompletion = {
    id: uniqueId('chatcmpl-'),
    object: 'chat.completion',
    created,
    model: result.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: result.content, refusal: null },
        logprobs: null,
        finish_reason: result.finishReason,
      },
    ],
    usage: {
      prompt_tokens: result.promptTokens,
      completion_tokens: result.completionTokens,
      total_tokens: result.promptTokens + result.completionTokens,
    },
    system_fingerprint: null,
  };
  if (result.cachedTokens !== undefined) {
    completion.usage.prompt_tokens_details = { cached_tokens: result.cachedTokens };
  }
  return completion;
}

// OpenAI chat body → engine request, and engine result → OpenAI chat.completion body.
import { uniqueId } from '../ids/unique-id.js';
import type { ChatCompletion } from '../openai/types.js';
import type { ChatCompletionBody } from '../protocol/openai.js';
import type { ChatChoice, ChatRequest, ChatResult } from './engine.js';

/** reasoning_effort → Ollama's `think`: none and minimal turn thinking off. */
function thinkOf(effort: NonNullable<ChatCompletionBody['reasoning_effort']>): NonNullable<ChatRequest['think']> {
  return effort === 'none' || effort === 'minimal' ? false : effort;
}

/** `model`: the name the engine serves the body's model under (a model alias's target). */
export function toChatRequest(body: ChatCompletionBody, numCtx?: number, model = body.model): ChatRequest {
  const request: ChatRequest = { model, messages: body.messages };
  if (body.temperature != null) request.temperature = body.temperature;
  if (body.top_p != null) request.topP = body.top_p;
  if (body.seed != null) request.seed = body.seed;
  if (body.stop != null) request.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens != null) request.maxTokens = maxTokens;
  const format = body.response_format;
  if (format?.type === 'json_object') request.format = 'json';
  if (format?.type === 'json_schema') request.format = format.json_schema.schema;
  if (numCtx !== undefined) request.numCtx = numCtx;
  // null is absent, as OpenAI reads it; validation has refused what the engine would drop.
  if (body.n != null && body.n > 1) request.choices = body.n;
  if (body.logprobs === true) {
    request.logprobs = true;
    if (body.top_logprobs != null) request.topLogprobs = body.top_logprobs;
  }
  if (body.reasoning_effort != null) request.think = thinkOf(body.reasoning_effort);
  if (body.frequency_penalty != null) request.frequencyPenalty = body.frequency_penalty;
  if (body.presence_penalty != null) request.presencePenalty = body.presence_penalty;
  if (body.top_k != null) request.topK = body.top_k;
  if (body.min_p != null) request.minP = body.min_p;
  if (body.repetition_penalty != null) request.repeatPenalty = body.repetition_penalty;
  if (body.logit_bias != null) request.logitBias = body.logit_bias;
  return request;
}

function choiceOf(choice: ChatChoice, index: number): ChatCompletion['choices'][number] {
  return {
    index,
    message: { role: 'assistant', content: choice.content, refusal: null },
    logprobs: choice.logprobs ? { content: choice.logprobs } : null,
    finish_reason: choice.finishReason,
  };
}

export function toChatCompletion(result: ChatResult, created = Math.floor(Date.now() / 1000)): ChatCompletion {
  const completion: ChatCompletion = {
    id: uniqueId('chatcmpl-'),
    object: 'chat.completion',
    created,
    model: result.model,
    choices: [result, ...(result.moreChoices ?? [])].map(choiceOf),
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
  if (result.reasoningTokens !== undefined) {
    completion.usage.completion_tokens_details = { reasoning_tokens: result.reasoningTokens };
  }
  return completion;
}

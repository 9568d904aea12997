// OpenAI's `n`: several answers to one request. Every engine gives one answer per call, so the
// request is sent n times, one after another: each call after the first finds the prompt in the
// engine's KV cache, and the line holds one slot, as any line does.
import type { ChatChoice, ChatRequest, ChatResult, Engine } from './engine.js';

/** The request's `choices` answers in one result: choice 0's fields, the others in moreChoices, the counts summed. */
export async function chatChoices(engine: Engine, request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
  const { choices = 1, ...one } = request;
  const result = await engine.chat(one, signal);
  if (choices <= 1) return result;
  const moreChoices: ChatChoice[] = [];
  for (let index = 1; index < choices; index++) {
    // The same seed would give the same answer: choice i samples with seed + i.
    const next = await engine.chat(one.seed === undefined ? one : { ...one, seed: one.seed + index }, signal);
    const choice: ChatChoice = { content: next.content, finishReason: next.finishReason };
    if (next.logprobs) choice.logprobs = next.logprobs;
    moreChoices.push(choice);
    result.promptTokens += next.promptTokens;
    result.completionTokens += next.completionTokens;
    if (next.cachedTokens !== undefined) result.cachedTokens = (result.cachedTokens ?? 0) + next.cachedTokens;
    if (next.reasoningTokens !== undefined)
      result.reasoningTokens = (result.reasoningTokens ?? 0) + next.reasoningTokens;
  }
  result.moreChoices = moreChoices;
  return result;
}

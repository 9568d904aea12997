// The context budget: num_ctx chosen once per batch, each request measured against it, trimmed
// when it is a conversation, refused with the numbers when it cannot fit; and the calibration
// that turns our estimates into the model's tokens.
import assert from 'node:assert/strict';
import { fitRequest, PromptCounter } from '../../server/context/budget.js';
import { Calibration } from '../../server/context/calibration.js';
import { chooseNumCtx, MIN_NUM_CTX } from '../../server/context/num-ctx.js';
import { CUT_MARKER } from '../../server/context/trim.js';
import { SAFETY_MARGIN } from '../../server/context/tokens.js';
import type { ChatCompletionBody, ChatMessage } from '../../server/protocol/openai.js';

const words = (count: number, seed = 0): string =>
  Array.from({ length: count }, (_, i) => ['alpha', 'bravo', 'charlie', 'delta', 'echo'][(i + seed) % 5]).join(' ');

function conversation(turns: number, wordsPerMessage = 30): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'system', content: 'You score candidates.' }];
  for (let turn = 0; turn < turns; turn++) {
    messages.push(
      { role: 'user', content: `question ${turn}: ${words(wordsPerMessage, turn)}` },
      { role: 'assistant', content: `answer ${turn}: ${words(wordsPerMessage, turn + 1)}` },
    );
  }
  messages.push({ role: 'user', content: `last question: ${words(wordsPerMessage)}` });
  return messages;
}

const body = (messages: ChatMessage[], maxTokens?: number): ChatCompletionBody => ({
  model: 'm',
  messages,
  ...(maxTokens !== undefined && { max_tokens: maxTokens }),
});

describe('the context budget', () => {
  it('chooses the smallest num_ctx that holds the longest request, rounded up, within the limits', () => {
    assert.deepEqual(chooseNumCtx({ longestRequest: 100 }), { numCtx: MIN_NUM_CTX, reason: 'requests' });
    assert.deepEqual(chooseNumCtx({ longestRequest: 5000 }), { numCtx: 5120, reason: 'requests' });
    assert.deepEqual(chooseNumCtx({ longestRequest: 5000, modelLimit: 4096 }), { numCtx: 4096, reason: 'model limit' });
    assert.deepEqual(chooseNumCtx({ longestRequest: 5000, learnedLimit: 3072 }), {
      numCtx: 3072,
      reason: 'learned limit',
    });
    assert.deepEqual(chooseNumCtx({ longestRequest: 5000, setting: 8192 }), { numCtx: 8192, reason: 'setting' });
    assert.deepEqual(chooseNumCtx({ longestRequest: 5000, setting: 8192, modelLimit: 4096 }), {
      numCtx: 4096,
      reason: 'model limit',
    });
  });

  it('sends a request that fits unchanged, its answer capped to the room left', () => {
    const counter = new PromptCounter();
    const messages = conversation(1);
    const fitted = fitRequest(body(messages, 4000), {
      numCtx: 2048,
      strategy: 'sliding-window',
      counter,
      calibration: new Calibration(),
    });
    assert.ok(fitted.fits);
    assert.equal(fitted.messages, messages);
    assert.equal(fitted.trim, null);
    assert.equal(fitted.promptTokens, Math.ceil(counter.messages(messages) * SAFETY_MARGIN));
    assert.equal(fitted.maxTokens, 2048 - fitted.promptTokens, 'prompt + answer never pass num_ctx');
  });

  it('trims a conversation over the budget by the strategy, keeping the system and last user messages', () => {
    const counter = new PromptCounter();
    const messages = conversation(20);
    const fitted = fitRequest(body(messages, 64), {
      numCtx: 1024,
      strategy: 'sliding-window',
      counter,
      calibration: new Calibration(),
    });
    assert.ok(fitted.fits);
    assert.ok(fitted.trim && fitted.trim.dropped > 0);
    assert.equal(fitted.messages[0], messages[0]);
    assert.equal(fitted.messages.at(-1), messages.at(-1));
    assert.ok(fitted.promptTokens + 64 <= 1024, `${fitted.promptTokens} + 64 fit 1024`);
    assert.equal(fitted.promptTokens, Math.ceil(counter.messages(fitted.messages) * SAFETY_MARGIN));
  });

  it('cuts inside a message only when allowed, keeping the rest of the conversation', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You score candidates.' },
      { role: 'user', content: `the long profile: ${words(3000)}` },
      { role: 'assistant', content: 'noted' },
      { role: 'user', content: 'and your score?' },
    ];
    const options = {
      numCtx: 1024,
      strategy: 'sliding-window' as const,
      counter: new PromptCounter(),
      calibration: new Calibration(),
    };
    const dropped = fitRequest(body(messages, 64), options);
    assert.ok(
      dropped.fits && !dropped.trim!.cut && dropped.messages.length === 2,
      'by default the long turn is dropped whole',
    );
    const cut = fitRequest(body(messages, 64), { ...options, allowCut: true });
    assert.ok(cut.fits && cut.trim!.cut);
    assert.equal(cut.messages.length, 4, 'every message kept');
    const content = cut.messages[1]!.content as string;
    assert.ok(
      content.startsWith('the long profile: ') && content.includes(CUT_MARKER),
      'its start kept, its middle cut',
    );
    assert.ok(cut.promptTokens + 64 <= 1024);
  });

  it('refuses a request that cannot fit even trimmed, with the numbers', () => {
    const fitted = fitRequest(body([{ role: 'user', content: words(3000) }], 100), {
      numCtx: 1024,
      strategy: 'hybrid',
      counter: new PromptCounter(),
      calibration: new Calibration(),
    });
    assert.equal(fitted.fits, false);
    assert.ok(!fitted.fits && fitted.promptTokens > 1024);
    assert.match(
      !fitted.fits ? fitted.message : '',
      /the prompt needs about \d+ tokens and the answer 100 more; the context window \(num_ctx\) is 1024/,
    );
  });
});

describe('token calibration', () => {
  it("starts at the safety margin and converges on the engine's counts within a few dozen requests", () => {
    const calibration = new Calibration();
    assert.equal(calibration.factor, SAFETY_MARGIN);
    let seed = 7;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    // The model's tokenizer gives 2.7 times our count, give or take 3%.
    for (let i = 0; i < 36; i++) {
      const estimated = 200 + Math.floor(random() * 800);
      calibration.observe(estimated, Math.round(estimated * 2.7 * (0.97 + random() * 0.06)));
    }
    assert.ok(
      calibration.factor >= 2.7 && calibration.factor < 2.7 * 1.06,
      `factor ${calibration.factor}: the mean plus a small cushion`,
    );
    const restored = new Calibration(calibration.toJSON());
    assert.equal(restored.factor, calibration.factor, 'kept in the store, the next batch starts calibrated');
  });

  it('ignores counts of only the uncached prompt tokens (older Ollama), which say nothing of the tokenizer', () => {
    const calibration = new Calibration();
    calibration.observe(100, 270);
    const before = calibration.factor;
    calibration.observe(100, 20);
    assert.equal(calibration.factor, before);
  });
});

// Conversation trimming: the rules every strategy keeps, over random conversations, and each
// strategy's choice on a concrete one.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ChatMessage } from '../../server/protocol/openai.js';
import { CUT_MARKER, TRIM_STRATEGIES, trimConversation, type TrimStrategy } from '../../server/context/trim.js';

type Message = ChatMessage & { important?: boolean };

/** Trimming is cheap: more runs than the default 100 reach more corner cases. */
const runs = { numRuns: 300 };

/** Words plus a framing of 4 tokens per message. */
const count = (message: ChatMessage): number =>
  4 + (typeof message.content === 'string' ? message.content.split(/\s+/).filter(Boolean).length : 0);
const tokensOf = (messages: ChatMessage[], overhead = 0) =>
  messages.reduce((sum, message) => sum + count(message), overhead);

const text = fc
  .array(fc.constantFrom('alpha', 'beta', 'gamma', 'δέλτα', '😀', 'x'), { maxLength: 25 })
  .map((words) => words.join(' '));
const message = (role: Message['role']) =>
  fc
    .record({ role: fc.constant(role), content: text, important: fc.boolean() })
    .map(({ important, ...rest }): Message => (important ? { ...rest, important } : rest));

/** An optional system prompt or two, random user/assistant messages, a last user message. */
const conversation = fc
  .tuple(
    fc.array(message('system'), { maxLength: 2 }),
    fc.array(fc.constantFrom<Message['role']>('user', 'assistant').chain(message), { maxLength: 12 }),
    message('user'),
  )
  .map(([system, middle, last]) => ({ system: system.length, messages: [...system, ...middle, last] }));

/** Budgets from nothing to a little more than the whole conversation, so most runs trim something. */
const scenario = conversation.chain((conversation) =>
  fc.record({
    conversation: fc.constant(conversation),
    budget: fc.integer({ min: 0, max: Math.ceil(tokensOf(conversation.messages) * 1.1) + 10 }),
    overhead: fc.integer({ min: 0, max: 10 }),
    strategy: fc.constantFrom(...TRIM_STRATEGIES),
    allowCut: fc.boolean(),
  }),
);

/** What the strategy never drops: the system messages, the last user message, and for importance its keepers. */
function protectedOf(messages: Message[], system: number, strategy: TrimStrategy): Message[] {
  const firstUser = messages.findIndex((message) => message.role === 'user');
  return messages.filter(
    (message, index) =>
      index < system ||
      index === messages.length - 1 ||
      (strategy === 'importance' && (index === firstUser || message.important === true)),
  );
}

function deepFreeze(messages: Message[]): Message[] {
  messages.forEach((message) => Object.freeze(message));
  return Object.freeze(messages) as Message[];
}

/** Whether `cut` is `original` with the middle of its content replaced by the marker. */
function isCutOf(cut: ChatMessage, original: ChatMessage): boolean {
  if (cut.role !== original.role || typeof cut.content !== 'string' || typeof original.content !== 'string')
    return false;
  const [start, end, ...rest] = cut.content.split(CUT_MARKER);
  return (
    rest.length === 0 && end !== undefined && original.content.startsWith(start!) && original.content.endsWith(end)
  );
}

/** The result's messages as indices into the input, in order, each the same object or (at most once) its cut. */
function positionsIn(result: ChatMessage[], input: ChatMessage[]): number[] | null {
  const positions: number[] = [];
  let from = 0;
  let cuts = 0;
  for (const message of result) {
    let at = input.indexOf(message, from);
    if (at < 0) {
      at = input.findIndex((original, index) => index >= from && isCutOf(message, original));
      cuts++;
    }
    if (at < 0 || cuts > 1) return null;
    positions.push(at);
    from = at + 1;
  }
  return positions;
}

describe('conversation trimming', () => {
  describe('every strategy, over random conversations', () => {
    it('fits when it says so, and says not only when even the protected messages exceed the budget', () => {
      fc.assert(
        fc.property(scenario, ({ conversation: { messages, system }, budget, overhead, strategy, allowCut }) => {
          const result = trimConversation(messages, { budget, overhead, strategy, count, allowCut });
          assert.equal(result.tokensAfter, tokensOf(result.messages, overhead));
          assert.equal(result.tokensBefore, tokensOf(messages, overhead));
          assert.equal(result.fits, result.tokensAfter <= budget);
          if (!result.fits) assert.ok(tokensOf(protectedOf(messages, system, strategy), overhead) > budget);
        }),
        runs,
      );
    });

    it('reaches its target unless the protected messages alone exceed it', () => {
      fc.assert(
        fc.property(scenario, fc.double({ min: 0.05, max: 1, noNaN: true }), (s, aggressiveFraction) => {
          const { messages, system } = s.conversation;
          const result = trimConversation(messages, { ...s, count, aggressiveFraction });
          assert.equal(
            result.target,
            s.strategy === 'aggressive' ? Math.floor(s.budget * aggressiveFraction) : s.budget,
          );
          const protectedTokens = tokensOf(protectedOf(messages, system, s.strategy), s.overhead);
          assert.ok(result.tokensAfter <= result.target || protectedTokens > result.target);
        }),
        runs,
      );
    });

    it('keeps the system and last user messages, the order, and cuts at most one message', () => {
      fc.assert(
        fc.property(scenario, ({ conversation: { messages, system }, budget, overhead, strategy, allowCut }) => {
          const result = trimConversation(messages, { budget, overhead, strategy, count, allowCut });
          assert.deepEqual(result.messages.slice(0, system), messages.slice(0, system));
          assert.ok(result.messages.slice(0, system).every((message, index) => message === messages[index]));
          assert.equal(result.messages.at(-1), messages.at(-1));
          const positions = positionsIn(result.messages, messages);
          assert.ok(positions, 'the result is the input in order, with at most one message cut');
          const identical = result.messages.filter((message) => messages.includes(message)).length;
          assert.equal(result.cut, identical < result.messages.length);
          assert.ok(allowCut || !result.cut);
          assert.equal(result.dropped, messages.length - result.messages.length);
        }),
        runs,
      );
    });

    it('changes nothing when the conversation already fits its target', () => {
      fc.assert(
        fc.property(scenario, ({ conversation: { messages }, budget, overhead, strategy, allowCut }) => {
          const result = trimConversation(messages, { budget, overhead, strategy, count, allowCut });
          fc.pre(tokensOf(messages, overhead) <= result.target);
          assert.deepEqual(result.messages, messages);
          assert.equal(result.dropped, 0);
          assert.equal(result.cut, false);
          assert.equal(result.tokensAfter, result.tokensBefore);
        }),
        runs,
      );
    });

    it('never changes its input', () => {
      fc.assert(
        fc.property(scenario, ({ conversation: { messages }, budget, overhead, strategy, allowCut }) => {
          const copy = structuredClone(messages);
          trimConversation(deepFreeze(messages), { budget, overhead, strategy, count, allowCut });
          assert.deepEqual(messages, copy);
        }),
        runs,
      );
    });
  });

  it('sliding-window keeps the most recent whole turns', () => {
    fc.assert(
      fc.property(scenario, ({ conversation: { messages, system }, budget, overhead }) => {
        const result = trimConversation(messages, { budget, overhead, strategy: 'sliding-window', count });
        const positions = positionsIn(result.messages, messages)!;
        const from = positions[system] ?? messages.length;
        assert.deepEqual(
          positions.slice(system),
          Array.from({ length: messages.length - from }, (_, offset) => from + offset),
        );
        assert.ok(from === system || messages[from]!.role === 'user', 'drops a user message with the replies after it');
      }),
      runs,
    );
  });

  it('importance always keeps the first user message and the important ones', () => {
    fc.assert(
      fc.property(scenario, ({ conversation: { messages, system }, budget, overhead, allowCut }) => {
        const result = trimConversation(messages, { budget, overhead, strategy: 'importance', count, allowCut });
        for (const message of protectedOf(messages, system, 'importance')) assert.ok(result.messages.includes(message));
      }),
      runs,
    );
  });

  describe('choices on one conversation', () => {
    const say = (role: Message['role'], words: number, name: string, important = false): Message => ({
      role,
      content: Array.from({ length: words }, (_, index) => `${name}${index}`).join(' '),
      ...(important ? { important } : {}),
    });
    // Tokens: 14 + 9 + 14 + 9 + 24 + 9 + 14 + 9 = 102.
    const system = say('system', 10, 's');
    const task = say('user', 5, 't');
    const answer = say('assistant', 10, 'a');
    const followUp = say('user', 5, 'f');
    const keyFact = say('assistant', 20, 'k', true);
    const question = say('user', 5, 'q');
    const reply = say('assistant', 10, 'r');
    const last = say('user', 5, 'last');
    const messages = [system, task, answer, followUp, keyFact, question, reply, last];
    const trim = (
      strategy: TrimStrategy,
      budget: number,
      more: { allowCut?: boolean; aggressiveFraction?: number } = {},
    ) => trimConversation(messages, { budget, strategy, count, ...more });

    it('sliding-window drops the oldest turns whole', () => {
      const result = trim('sliding-window', 70);
      assert.deepEqual(result.messages, [system, question, reply, last]);
      assert.deepEqual([result.fits, result.tokensBefore, result.tokensAfter, result.dropped], [true, 102, 46, 4]);
    });

    it('importance drops answers before questions, and keeps the task and what is marked', () => {
      assert.deepEqual(trim('importance', 90).messages, [system, task, followUp, keyFact, question, reply, last]);
      assert.deepEqual(trim('importance', 75).messages, [system, task, followUp, keyFact, question, last]);
      assert.deepEqual(trim('importance', 65).messages, [system, task, keyFact, question, last]);
      const tooSmall = trim('importance', 40);
      assert.deepEqual(tooSmall.messages, [system, task, keyFact, last]);
      assert.deepEqual([tooSmall.fits, tooSmall.tokensAfter], [false, 56]);
    });

    it('hybrid goes on with a sliding window over what importance keeps', () => {
      assert.deepEqual(trim('hybrid', 65).messages, [system, task, keyFact, question, last]);
      assert.deepEqual(trim('hybrid', 40).messages, [system, last]);
      assert.equal(trim('hybrid', 40).fits, true);
    });

    it('aggressive aims at a share of the budget, and fits the budget when it falls short of it', () => {
      const result = trim('aggressive', 88);
      assert.equal(result.target, 66);
      assert.deepEqual(result.messages, [system, task, keyFact, question, last]);
      const short = trim('aggressive', 30, { aggressiveFraction: 0.5 });
      assert.deepEqual([short.messages, short.target, short.tokensAfter, short.fits], [[system, last], 15, 23, true]);
      assert.throws(() => trim('aggressive', 88, { aggressiveFraction: 1.5 }), RangeError);
    });

    it('with allowCut, shortens the message about to go instead, keeping its start and end', () => {
      const result = trim('importance', 95, { allowCut: true });
      assert.equal(result.cut, true);
      assert.equal(result.dropped, 0);
      assert.ok(result.tokensAfter <= 95);
      assert.deepEqual(
        result.messages.filter((message) => message !== result.messages[2]),
        messages.filter((message) => message !== answer),
      );
      assert.equal(result.messages[2]!.content, `a0 a1${CUT_MARKER}a8 a9`);
      // One token over: sliding-window cuts the longer message of the oldest turn, keeping the pair.
      const window = trim('sliding-window', 101, { allowCut: true });
      assert.deepEqual([window.messages[1], window.dropped, window.tokensAfter], [task, 0, 101]);
      assert.ok((window.messages[2]!.content as string).includes(CUT_MARKER));
    });

    it('reports fits: false with the protected messages when they alone are too many', () => {
      const result = trim('sliding-window', 20);
      assert.deepEqual([result.messages, result.fits, result.tokensAfter], [[system, last], false, 23]);
    });
  });
});

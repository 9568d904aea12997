// Trimming a conversation to a token budget, so that a request longer than the model's context
// is sent shortened on purpose instead of being cut from the front by the engine (which drops
// the system prompt first). Pure: the caller supplies the token counter; the input is never changed.
//
// Every strategy keeps, untouched and in order:
// - the leading system (or developer) messages: the instructions;
// - the current turn: the last user message and whatever follows it (an assistant prefix), or
//   the last message where there is no user message.
// What lies between is the middle; strategies differ in which middle messages go first.
import { DEFAULT_AGGRESSIVE_FRACTION } from '../config/defaults.js';
import type { TrimStrategy } from '../protocol/metrics.js';
import type { ChatMessage } from '../protocol/openai.js';

export { TRIM_STRATEGIES, type TrimStrategy } from '../protocol/metrics.js';

/** Stands where the middle of a cut message's content was taken out. */
export const CUT_MARKER = '…[trimmed]…';

export interface TrimOptions {
  /** The most tokens the request may take: its messages plus `overhead`. */
  budget: number;
  strategy: TrimStrategy;
  /** Tokens of one message as the engine sees it, role framing included. */
  count: (message: ChatMessage) => number;
  /** Tokens outside the messages, such as the priming of the reply. Default 0. */
  overhead?: number;
  /** `aggressive` aims at this share of the budget, to leave room under VRAM pressure. Default 0.75. */
  aggressiveFraction?: number;
  /** Instead of dropping one more message, shorten one whose cut alone makes it fit. Default false. */
  allowCut?: boolean;
}

export interface TrimResult {
  /** The kept messages in their order: the input's own objects, except a cut one (a copy). */
  messages: ChatMessage[];
  /** `tokensAfter <= budget`. False only when even the messages the strategy keeps are too many. */
  fits: boolean;
  /** What the strategy aimed at: the budget, or for `aggressive` its fraction (rounded down). */
  target: number;
  /** Tokens of the input, overhead included. */
  tokensBefore: number;
  /** Tokens of the result, overhead included. */
  tokensAfter: number;
  /** Messages left out. */
  dropped: number;
  /** Whether one message's content was shortened. */
  cut: boolean;
  strategy: TrimStrategy;
}

/**
 * Drops middle messages in the strategy's order until the conversation fits its target
 * (the budget, or for `aggressive` budget × aggressiveFraction). Nothing changes when it fits.
 *
 * - `sliding-window`: oldest first, a turn at a time: a user message goes together with the
 *   replies after it, so no answer stays without its question.
 * - `importance`: keeps the first user message (it usually sets the task) and messages marked
 *   `"important": true` (an extension field on a message object of an input line); drops the
 *   others one at a time, non-user messages (the model's own answers) before user messages,
 *   oldest first within each.
 * - `hybrid`: `importance`, then when that is not enough a sliding window over what is left
 *   (the first user message and important ones, oldest turn first).
 * - `aggressive`: `hybrid` aiming at the smaller target.
 *
 * With `allowCut`, before each drop the longest text message of what would be dropped is tried
 * cut instead: the middle of its content replaced by CUT_MARKER, keeping its start and end, as
 * much as fits. Only a cut that makes the whole fit is taken, and at most one.
 */
export function trimConversation(messages: ChatMessage[], options: TrimOptions): TrimResult {
  const { budget, strategy, count, overhead = 0, allowCut = false } = options;
  const target = strategy === 'aggressive' ? Math.floor(budget * aggressiveFraction(options)) : budget;
  const counts = messages.map(count);
  const tokensBefore = overhead + counts.reduce((sum, tokens) => sum + tokens, 0);

  let total = tokensBefore;
  const removed = new Set<number>();
  let cut: { index: number; message: ChatMessage } | null = null;
  for (const step of dropOrder(messages, strategy)) {
    if (total <= target) break;
    if (allowCut) {
      cut = cutToFit(messages, counts, step, total - target, count);
      if (cut) {
        total += count(cut.message) - counts[cut.index]!;
        break;
      }
    }
    for (const index of step) {
      removed.add(index);
      total -= counts[index]!;
    }
  }

  return {
    messages: messages.flatMap((message, index) =>
      removed.has(index) ? [] : [index === cut?.index ? cut.message : message],
    ),
    fits: total <= budget,
    target,
    tokensBefore,
    tokensAfter: total,
    dropped: removed.size,
    cut: cut !== null,
    strategy,
  };
}

function aggressiveFraction(options: TrimOptions): number {
  const fraction = options.aggressiveFraction ?? DEFAULT_AGGRESSIVE_FRACTION;
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`aggressiveFraction must be in (0, 1], got ${fraction}`);
  return fraction;
}

/** The middle messages' indices in the order they go, grouped into what goes at once. */
function dropOrder(messages: ChatMessage[], strategy: TrimStrategy): number[][] {
  const middle = middleOf(messages);
  if (strategy === 'sliding-window') return turns(messages, middle);
  const firstUser = middle.find((index) => messages[index]!.role === 'user');
  const kept = (index: number) => index === firstUser || isImportant(messages[index]!);
  const unmarked = middle.filter((index) => !kept(index));
  const byImportance = [
    ...unmarked.filter((index) => messages[index]!.role !== 'user'),
    ...unmarked.filter((index) => messages[index]!.role === 'user'),
  ].map((index) => [index]);
  return strategy === 'importance' ? byImportance : [...byImportance, ...turns(messages, middle.filter(kept))];
}

/** Indices between the leading instructions and the current turn (see the file comment). */
function middleOf(messages: ChatMessage[]): number[] {
  let head = 0;
  while (head < messages.length && isInstruction(messages[head]!)) head++;
  const lastUser = messages.findLastIndex((message) => message.role === 'user');
  const tail = Math.max(head, lastUser >= 0 ? lastUser : messages.length - 1);
  return Array.from({ length: tail - head }, (_, offset) => head + offset);
}

/** Groups indices into turns: a user message with the messages after it up to the next one. */
function turns(messages: ChatMessage[], indices: number[]): number[][] {
  const groups: number[][] = [];
  for (const index of indices) {
    if (messages[index]!.role === 'user' || groups.length === 0) groups.push([index]);
    else groups.at(-1)!.push(index);
  }
  return groups;
}

function isInstruction(message: ChatMessage): boolean {
  return message.role === 'system' || message.role === 'developer';
}

function isImportant(message: ChatMessage): boolean {
  return (message as { important?: unknown }).important === true;
}

/** Cuts the longest text message of `step` to lose at least `excess` tokens, or null if it cannot. */
function cutToFit(
  messages: ChatMessage[],
  counts: number[],
  step: number[],
  excess: number,
  count: (message: ChatMessage) => number,
): { index: number; message: ChatMessage } | null {
  const texts = step.filter((index) => typeof messages[index]!.content === 'string');
  if (texts.length === 0) return null;
  const index = texts.reduce((longest, candidate) =>
    (messages[candidate]!.content as string).length > (messages[longest]!.content as string).length
      ? candidate
      : longest,
  );
  const message = shorten(messages[index]!, counts[index]! - excess, count);
  return message ? { index, message } : null;
}

/** The message keeping the most characters of its start and end that counts at most `allowed`. */
function shorten(message: ChatMessage, allowed: number, count: (message: ChatMessage) => number): ChatMessage | null {
  const chars = Array.from(message.content as string); // by code point, never splitting a surrogate pair
  const keeping = (kept: number): ChatMessage => ({
    ...message,
    content:
      chars.slice(0, Math.ceil(kept / 2)).join('') +
      CUT_MARKER +
      chars.slice(chars.length - Math.floor(kept / 2)).join(''),
  });
  // Binary search for the most characters kept; `best` only ever holds a length that fit.
  let best = 0;
  let high = chars.length - 1;
  while (best < high) {
    const middle = Math.ceil((best + high) / 2);
    if (count(keeping(middle)) <= allowed) best = middle;
    else high = middle - 1;
  }
  return best > 0 ? keeping(best) : null;
}

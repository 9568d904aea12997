// The expected score of an answer, G-Eval style: rather than the one number the model wrote, the
// probability-weighted mean of the numbers it could have written at that place, read from the
// top logprobs of the score's tokens, and the standard deviation of that distribution as its
// confidence (0: the model was sure; large: the rank of this row is a coin toss, review it).
//
// Method. The score's value is located in the answer text (the top-level key, then the number
// literal after it) and mapped to the tokens that cover it, plus the token right after it, whose
// alternatives may lengthen the number ("10" then "0" is 100). Starting from an empty number, each
// of those positions replaces every partial number by its continuations with each alternative
// token there (probabilities multiplied); a continuation that holds a character no number can
// hold ends its number there. Finished numbers that are valid for the field (a JSON number that
// the field's schema accepts, e.g. an integer in 0–100) make the distribution, renormalised over
// them; the rest of the mass (text, out-of-range numbers) is left out.
// This covers tokenizers that write a number in one token (OpenAI's, up to 3 digits: the
// alternatives are whole numbers) and those that split it digit by digit (Llama, Gemma).
// Approximation: the logprobs are known only along the path the model took, so after a different
// first digit the next digit is assumed to follow the distribution observed after the chosen one;
// and only the top alternatives (top_logprobs) are seen, the rest of the mass is unknown.
import type { TokenLogprob } from '../openai/types.js';

export interface ScoreDistribution {
  expected: number;
  /** The standard deviation of the valid numbers' distribution. */
  sd: number;
}

/** A JSON number literal, at the start of a text. */
const NUMBER_LITERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/;
const WHOLE_NUMBER = new RegExp(`${NUMBER_LITERAL.source}$`);
/** A character no JSON number holds: it ends the number it follows. */
const NOT_NUMBER = /[^-+.\deE]/;
/** Partial numbers less likely than this are dropped: they cannot move the mean. */
const NEGLIGIBLE = 1e-7;
/** At most this many partial numbers are followed (the most likely ones). */
const MAX_BRANCHES = 2000;

/** Where the number value of the top-level key `field` is in a JSON answer; null when that value is no number. */
export function numberSpan(text: string, field: string): { start: number; end: number } | null {
  let depth = 0;
  for (let index = text.indexOf('{'); index !== -1 && index < text.length; index++) {
    const char = text[index]!;
    if (char === '"') {
      const end = stringEnd(text, index);
      if (end === -1) return null;
      const colon = /^\s*:\s*/.exec(text.slice(end));
      if (depth === 1 && colon && keyOf(text.slice(index, end)) === field) {
        const start = end + colon[0].length;
        const literal = NUMBER_LITERAL.exec(text.slice(start));
        return literal ? { start, end: start + literal[0].length } : null;
      }
      index = end - 1;
    } else if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') depth--;
  }
  return null;
}

/** The index after the closing quote of the string starting at `start`; -1 when it is not closed. */
function stringEnd(text: string, start: number): number {
  for (let index = start + 1; index < text.length; index++) {
    if (text[index] === '\\') index++;
    else if (text[index] === '"') return index + 1;
  }
  return -1;
}

function keyOf(quoted: string): string | null {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return null;
  }
}

/** The alternatives at one position, as probabilities, the chosen token among them. */
function alternatives(position: TokenLogprob): Array<{ token: string; p: number }> {
  const top = position.top_logprobs.map(({ token, logprob }) => ({ token, p: Math.exp(logprob) }));
  if (!top.some(({ token }) => token === position.token))
    top.push({ token: position.token, p: Math.exp(position.logprob) });
  return top;
}

/**
 * The distribution of the score at `field` in `content`, from the tokens' logprobs; null when the
 * tokens carry no alternatives there, do not spell the answer, or no alternative is valid.
 * `valid` says whether a number is one the field allows (e.g. the field's schema).
 */
export function expectedScore(
  content: string,
  tokens: readonly TokenLogprob[],
  field: string,
  valid: (value: number) => boolean,
): ScoreDistribution | null {
  const span = numberSpan(content, field);
  if (!span) return null;
  // The tokens spell the answer; they may start earlier (e.g. with text the engine left out of it).
  const text = tokens.map(({ token }) => token).join('');
  const base = text.indexOf(content.slice(0, span.end));
  if (base === -1) return null;
  const [start, end] = [base + span.start, base + span.end];
  // The positions: the tokens covering the number, and the one after it when the number ends a token.
  const positions: Array<{ token: TokenLogprob; lead: string }> = [];
  let offset = 0;
  for (const token of tokens) {
    const [from, to] = [offset, offset + token.token.length];
    offset = to;
    if (to <= start) continue;
    if (from >= end) {
      if (from === end && positions.length > 0) positions.push({ token, lead: '' });
      break;
    }
    // The part of the first token before the number (e.g. ' ' in ' 85'), which its alternatives share.
    positions.push({ token, lead: from < start ? text.slice(from, start) : '' });
  }
  if (positions.length === 0 || positions.every(({ token }) => token.top_logprobs.length === 0)) return null;

  const mass = new Map<number, number>();
  const finish = (number: string, p: number): void => {
    if (!WHOLE_NUMBER.test(number)) return;
    const value = Number(number);
    if (Number.isFinite(value) && valid(value)) mass.set(value, (mass.get(value) ?? 0) + p);
  };
  let partial = [{ number: '', p: 1 }];
  for (const { token, lead } of positions) {
    const next: typeof partial = [];
    for (const alternative of alternatives(token)) {
      // A first token's alternative counts when it has the same text before the number, spaces aside.
      const digits = lead === '' ? alternative.token : afterLead(alternative.token, lead);
      if (digits === null) continue;
      for (const { number, p } of partial) {
        const grown = number + digits;
        const stop = grown.search(NOT_NUMBER);
        if (stop !== -1) finish(grown.slice(0, stop), p * alternative.p);
        else if (p * alternative.p >= NEGLIGIBLE) next.push({ number: grown, p: p * alternative.p });
      }
    }
    partial = next.length > MAX_BRANCHES ? next.sort((a, b) => b.p - a.p).slice(0, MAX_BRANCHES) : next;
  }
  for (const { number, p } of partial) finish(number, p);

  const total = [...mass.values()].reduce((sum, p) => sum + p, 0);
  if (total === 0) return null;
  let expected = 0;
  for (const [value, p] of mass) expected += (value * p) / total;
  let variance = 0;
  for (const [value, p] of mass) variance += ((value - expected) ** 2 * p) / total;
  return { expected, sd: Math.sqrt(variance) };
}

/** The alternative's text after the lead (spaces aside), or null when it has another one. */
function afterLead(token: string, lead: string): string | null {
  const at = token.search(/[-\d]/);
  if (at === -1) return null;
  return token.slice(0, at).replace(/\s/g, '') === lead.replace(/\s/g, '') ? token.slice(at) : null;
}

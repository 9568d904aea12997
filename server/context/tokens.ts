// Token counts for estimates, with gpt-tokenizer's o200k_base encoding. Local models have their own
// tokenizers (Gemma, Llama, Qwen), so a count here is an approximation of theirs: `calibrated()`
// scales it by a per-model factor learned from the prompt_tokens an engine reports, or by a
// safety margin while none is known.
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

/** Chat-template tokens around each message (role name and delimiters), as OpenAI counts them. */
export const TOKENS_PER_MESSAGE = 4;
/** Tokens that open the assistant's reply after the last message. */
export const REPLY_PRIMING_TOKENS = 3;
/** The factor for a model without a learned calibration: room for a tokenizer up to 15% finer than o200k_base. */
export const SAFETY_MARGIN = 1.15;

// Text such as "<|endoftext|>" in a CSV cell is data: count it as plain text instead of throwing.
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

// gpt-tokenizer's byte-pair merging takes quadratic time in the length of one pre-token, and a
// run of letters without spaces (a 5 MB cell of "xxx", base64, Japanese prose) is one pre-token:
// 32,000 such characters take seconds. So text is counted in segments of at most this many
// characters, cut before a space where there is one (where the tokenizer splits anyway, so
// ordinary text counts exactly) and through a run otherwise (about one token off per cut).
const SEGMENT_CHARS = 256;
const SPACE = 0x20;

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

export function countTextTokens(text: string): number {
  if (text.length <= SEGMENT_CHARS) return text === '' ? 0 : countTokens(text, AS_PLAIN_TEXT);
  let count = 0;
  for (let start = 0; start < text.length;) {
    let end = start + SEGMENT_CHARS;
    if (end >= text.length) {
      end = text.length;
    } else {
      // lastIndexOf would search back to the start of a text without spaces, for every segment.
      let space = end;
      while (space > start && text.charCodeAt(space) !== SPACE) space--;
      if (space > start) end = space;
      else if (isHighSurrogate(text.charCodeAt(end - 1))) end--;
    }
    count += countTokens(text.slice(start, end), AS_PLAIN_TEXT);
    start = end;
  }
  return count;
}

/** The tokens a chat template adds around `messages` messages, beyond their contents. */
export function chatOverheadTokens(messages: number): number {
  return messages * TOKENS_PER_MESSAGE + REPLY_PRIMING_TOKENS;
}

/** A count in the model's own tokens: o200k tokens times the model's factor, or the safety margin. */
export function calibrated(count: number, factor: number = SAFETY_MARGIN): number {
  return Math.ceil(count * factor);
}

// A slot starts by caching the counts of its values. When, after its first 1024 values, more than
// half of those it has seen were new (ids, emails, free text), it drops the cache, counts one value
// in 16 and estimates the others from the characters-per-token ratio of those it counted.
const UNIQUE_AFTER_LOOKUPS = 1024;
const SAMPLE_EVERY = 16;
// What one slot's cache may hold, in UTF-16 code units.
const SLOT_CACHE_CHARS = 512 * 1024;

/** Token counts of the values of one template slot. */
class SlotCounter {
  private cache: Map<string, number> | null = new Map();
  private cachedChars = 0;
  private lookups = 0;
  private misses = 0;
  private unsampled = 0;
  /** The characters and tokens of the values counted exactly, for the ratio. */
  private countedChars = 0;
  private countedTokens = 0;

  /** `prefix`: the space the slot takes over from the static text before it, or ''. */
  constructor(private readonly prefix: string) {}

  count(value: string): number {
    const cache = this.cache;
    if (cache === null) return this.estimate(value);
    this.lookups++;
    const known = cache.get(value);
    if (known !== undefined) return known;
    this.misses++;
    const count = this.exact(value);
    if (this.lookups >= UNIQUE_AFTER_LOOKUPS && this.misses * 2 > this.lookups) {
      this.cache = null;
    } else if (this.cachedChars + value.length <= SLOT_CACHE_CHARS) {
      cache.set(value, count);
      this.cachedChars += value.length;
    }
    return count;
  }

  private exact(value: string): number {
    const text = this.prefix + value;
    const count = countTextTokens(text);
    this.countedChars += text.length;
    this.countedTokens += count;
    return count;
  }

  private estimate(value: string): number {
    if (++this.unsampled % SAMPLE_EVERY === 0) return this.exact(value);
    const chars = this.prefix.length + value.length;
    return chars === 0 ? 0 : Math.max(1, Math.round((chars * this.countedTokens) / this.countedChars));
  }
}

/**
 * Counts the tokens of texts made as static + value + static + ... + static (a template filled
 * with CSV cells) at 100,000s of rows a second; the tokenizer on every whole message would run at
 * about 60,000, slower than the CSV parser. The static pieces are counted once; each slot caches
 * the counts of its values, since most columns repeat (names, titles, categories), and estimates
 * the values of a column that does not repeat from a sample of them (see SlotCounter).
 *
 * Counting pieces apart is not exact where a token would span a boundary. The common case, a
 * space before a value ("Title: {{title}}" tokenizes as "Title", ":", " Engineer"), is handled by
 * counting the space with the value. Against exact counts on the candidates data, the total is 1%
 * over, and 95% of the lines are within 4%: well inside the safety margin. Where a line's fit in
 * the context window is at stake, the caller can count it exactly.
 */
export class TemplateTokenCounter {
  private readonly staticTokens: number;
  private readonly slots: SlotCounter[];

  /** `statics` surround the slots: statics.length is the number of slots plus one. */
  constructor(statics: readonly string[]) {
    const prefixes = statics.slice(0, -1).map((text) => (text.endsWith(' ') ? ' ' : ''));
    this.staticTokens = statics.reduce(
      (sum, text, index) => sum + countTextTokens(prefixes[index] ? text.slice(0, -1) : text),
      0,
    );
    this.slots = prefixes.map((prefix) => new SlotCounter(prefix));
  }

  /** The tokens of the text whose slot i holds fields[columns[i]]. */
  count(fields: readonly string[], columns: readonly number[]): number {
    let count = this.staticTokens;
    for (let slot = 0; slot < columns.length; slot++) count += this.slots[slot]!.count(fields[columns[slot]!]!);
    return count;
  }
}

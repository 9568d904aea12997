// A structured answer (one JSON object) out of an assistant message. Models asked for JSON
// mostly return it as it is; some wrap it in a ```json fence or in prose, or break it slightly.
// Only repairs whose meaning is certain are made:
//  - text before the object's first `{` and after its matching `}` is dropped (prose around it,
//    or trailing garbage such as a doubled `}`);
//  - a trailing comma before `}` or `]` is removed;
//  - ONE missing final `}` or `]` is added, and only when the text ends just after a string,
//    `}`, `]`, true, false or null. Never after a number or a comma, and never inside a
//    string: the answer may have been cut there, and closing it would invent a value.
// Anything else is unparseable. A JSON value that is not an object is unparseable too.
import { isObject } from '../common/is-object.js';

export type Answer =
  { kind: 'parsed'; fields: Record<string, unknown>; repaired: boolean } | { kind: 'empty' } | { kind: 'unparseable' };

const EMPTY: Answer = { kind: 'empty' };
const UNPARSEABLE: Answer = { kind: 'unparseable' };
/** The body of the first fenced block; an unclosed fence (a cut answer) runs to the end. */
const FENCE = /```[\w-]*[ \t]*\r?\n?([\s\S]*?)(?:```|$)/;
const COMPLETE_VALUE_END = /(?:["}\]]|\btrue|\bfalse|\bnull)$/;

export function parseAnswer(content: unknown): Answer {
  if (content === null || content === undefined) return EMPTY;
  if (typeof content !== 'string') return UNPARSEABLE;
  const text = content.trim();
  if (text === '') return EMPTY;
  const plain = objectOf(text);
  if (plain) return { kind: 'parsed', fields: plain, repaired: false };
  const fenced = FENCE.exec(text);
  const region = fenced ? fenced[1]!.trim() : text;
  if (fenced) {
    const inFence = objectOf(region);
    if (inFence) return { kind: 'parsed', fields: inFence, repaired: false };
  }
  const repairedText = repair(region);
  const repaired = repairedText === null ? null : objectOf(repairedText);
  return repaired ? { kind: 'parsed', fields: repaired, repaired: true } : UNPARSEABLE;
}

/** A JSON object (not an array, not null). */
function objectOf(text: string): Record<string, unknown> | null {
  if (text[0] !== '{') return null;
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

const withoutTrailingComma = (text: string): string => {
  const trimmed = text.trimEnd();
  return trimmed.endsWith(',') ? trimmed.slice(0, -1) : text;
};

/** The first object in `text` with the repairs above, or null when they do not suffice. */
function repair(text: string): string | null {
  const start = text.indexOf('{');
  if (start === -1) return null;
  const closers: string[] = [];
  let out = '';
  let inString = false;
  let escaped = false;
  for (let index = start; index < text.length; index++) {
    const char = text[index]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (char === '\\') escaped = true;
      else if (char === '"') inString = false;
      out += char;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '{') closers.push('}');
    else if (char === '[') closers.push(']');
    else if (char === '}' || char === ']') {
      if (closers.pop() !== char) return null;
      out = withoutTrailingComma(out) + char;
      if (closers.length === 0) return out;
      continue;
    }
    out += char;
  }
  if (inString || closers.length !== 1 || !COMPLETE_VALUE_END.test(out.trimEnd())) return null;
  return out + closers[0];
}

// Where a field's value lies in one line of valid JSON, so that a diagnostic can underline it
// rather than the whole line.

export interface Span {
  start: number;
  end: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function skipSpace(text: string, at: number): number {
  while (at < text.length && (text[at] === ' ' || text[at] === '\t' || text[at] === '\n' || text[at] === '\r')) at++;
  return at;
}

/** The index after the string that opens at `at`. */
function skipString(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i++;
    else if (code === QUOTE) return i + 1;
  }
  return text.length;
}

/** The index after the value that starts at `at`. */
function skipValue(text: string, at: number): number {
  const first = text[at];
  if (first === '"') return skipString(text, at);
  if (first !== '{' && first !== '[') {
    let end = at;
    while (end < text.length && !',}] \t\r\n'.includes(text[end]!)) end++;
    return end;
  }
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const char = text[i];
    if (char === '"') i = skipString(text, i) - 1;
    else if (char === '{' || char === '[') depth++;
    else if ((char === '}' || char === ']') && --depth === 0) return i + 1;
  }
  return text.length;
}

/** Where the value of member `key` (a name, or an index in an array) starts, or -1. */
function member(text: string, container: number, key: string | number): number {
  const isArray = text[container] === '[';
  if (isArray !== (typeof key === 'number')) return -1;
  let at = skipSpace(text, container + 1);
  for (let index = 0; at < text.length && text[at] !== '}' && text[at] !== ']'; index++) {
    let name: string | number = index;
    if (!isArray) {
      const nameEnd = skipString(text, at);
      name = JSON.parse(text.slice(at, nameEnd)) as string;
      at = skipSpace(text, skipSpace(text, nameEnd) + 1); // past the colon
    }
    if (name === key) return at;
    at = skipSpace(text, skipValue(text, at));
    if (text[at] === ',') at = skipSpace(text, at + 1);
  }
  return -1;
}

/**
 * The span of `param` (the validator's path, e.g. `body.messages[0].role`) in `text`, or of its
 * deepest part that is there (`body` when `body.model` is missing); null when not even that.
 */
export function valueSpan(text: string, param: string): Span | null {
  const path = param.split('.').flatMap((part) => {
    const [name, ...indices] = part.split('[');
    return [name!, ...indices.map((index) => Number.parseInt(index, 10))];
  });
  let at = skipSpace(text, 0);
  let span: Span | null = null;
  for (const key of path) {
    at = member(text, at, key);
    if (at < 0) break;
    span = { start: at, end: skipValue(text, at) };
  }
  return span;
}

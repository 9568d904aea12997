// JSON schema → GBNF grammar for the embedded engine (llama.cpp's grammar format, see its
// grammars/README.md). node-llama-cpp's own converter ignores minimum/maximum (an integer may be
// a sign, 16 digits and an exponent) and allows whitespace that costs tokens; this one writes
// compact JSON whose bounds the model cannot break:
// - objects: the declared properties in schema order, required ones always, optional ones
//   optional; no other keys (additionalProperties is read as false);
// - integers: exactly the numbers in [minimum, maximum] (no sign unless the range has negatives,
//   no exponent, no leading zeros); without bounds at most 15 digits (exact in a JS number);
// - numbers: the integers in range, plus k.ddd (1 to 6 fraction digits) where the whole unit
//   interval [k, k+1] lies in range (for 0–1: 0, 1 and 0.5, never 1.5); no exponent;
// - strings: raw characters and the short escapes \" \\ \/ \b \f \n \r \t, minLength/maxLength as
//   bounded repetition; no \u escapes (any character can be written as itself, and a surrogate
//   pair would count twice against minLength). The raw characters are U+0020..U+10FFFF less the
//   surrogates: llama.cpp decodes a model's byte tokens without checking, so a negated class let
//   a random-weight model write bytes Node decodes to several U+FFFD, past maxLength (1 answer in
//   20). One gap remains: llama.cpp reads overlong UTF-8 (C0/C1 leads, E0 80-9F, F0 80-8F) as the
//   character it spells, which no class can refuse; the answer check catches such text (none in
//   the 800 answers of the engine test);
// - arrays (items, minItems/maxItems), enum/const (their exact JSON text), booleans, null,
//   anyOf/oneOf as alternatives (oneOf's "exactly one" is not enforced), type lists, and $ref
//   to #/$defs or #/definitions.
// Any other keyword (pattern, format, multipleOf, allOf, …) makes the whole schema unsupported:
// the caller then falls back to node-llama-cpp's own grammar, and the answer check catches
// whatever that grammar lets through.

/** A schema this converter cannot turn into a grammar that keeps every constraint. */
export class UnsupportedSchemaError extends Error {
  constructor(where: string, what: string) {
    super(`${where}: ${what}`);
    this.name = 'UnsupportedSchemaError';
  }
}

/** Digits of an integer without bounds: below 2^53, so every such integer is exact in a JS number. */
const MAX_INTEGER_DIGITS = 15;
const LARGEST = 10 ** MAX_INTEGER_DIGITS - 1;
/** Fraction digits of a non-integer number. */
const FRACTION_DIGITS = 6;

/** Keywords that constrain nothing. */
const ANNOTATIONS = new Set([
  'title',
  'description',
  '$schema',
  '$id',
  '$comment',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
]);

/** The keywords read for each type. */
const TYPE_KEYWORDS: Record<string, readonly string[]> = {
  object: ['properties', 'required', 'additionalProperties'],
  array: ['items', 'minItems', 'maxItems'],
  string: ['minLength', 'maxLength'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  boolean: [],
  null: [],
};

type Schema = Record<string, unknown>;

/**
 * The GBNF grammar (root rule `root`) whose sentences are compact JSON texts valid against the
 * schema. Throws UnsupportedSchemaError for a schema it cannot convert faithfully.
 */
export function jsonSchemaToGbnf(schema: Record<string, unknown>): string {
  return new GrammarWriter(schema, false).write();
}

/**
 * The schema's grammar with the opening every answer starts with taken out: `{"score":` where
 * the root is an object whose first property is required, else nothing. Each token of such an
 * opening is forced, yet sampling it costs a whole decode step; written after the prompt it is
 * evaluated with it in one batch. `grammar` is what may follow the opening.
 */
export function answerGrammar(schema: Record<string, unknown>): { opening: string; grammar: string } {
  const writer = new GrammarWriter(schema, true);
  const grammar = writer.write();
  return { opening: writer.opening, grammar };
}

class GrammarWriter {
  /** Rule name → body, in the order written. */
  private readonly rules = new Map<string, string>();
  /** Body → rule name: identical rules are written once. */
  private readonly byBody = new Map<string, string>();
  /** Names referred to before their body is written (the root, $defs entries). */
  private readonly reserved = new Set<string>();

  /** The text taken out of the root object's rule when splitOpening is set (answerGrammar). */
  opening = '';

  constructor(
    private readonly root: Schema,
    private readonly splitOpening: boolean,
  ) {}

  write(): string {
    this.named('root', () => this.value(this.root, 'root', 'root'));
    const { root, ...others } = Object.fromEntries(this.rules);
    return [['root', root], ...Object.entries(others)].map(([name, body]) => `${name} ::= ${body}`).join('\n') + '\n';
  }

  /** The rule `name` with the body `write` gives, which may itself refer to `name`. */
  private named(name: string, write: () => string): string {
    this.reserved.add(name);
    const expression = write();
    // The body's own outermost rule took the name, or it is a plain expression (a literal).
    if (this.reserved.delete(name)) this.rules.set(name, expression);
    return name;
  }

  /** A GBNF expression for the values the schema allows; `name` hints the rule names. */
  private value(schema: unknown, name: string, where: string): string {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw new UnsupportedSchemaError(where, `schema ${JSON.stringify(schema)} (any value)`);
    }
    const s = schema as Schema;
    if (s.$ref !== undefined) return this.ref(s, where);
    if (s.const !== undefined || s.enum !== undefined) return this.literals(s, name, where);
    if (s.anyOf !== undefined || s.oneOf !== undefined) return this.alternatives(s, name, where);
    const types = typeof s.type === 'string' ? [s.type] : Array.isArray(s.type) ? (s.type as unknown[]) : undefined;
    if (!types || types.length === 0) {
      checkKeywords(s, new Set(['$defs', 'definitions']), where);
      throw new UnsupportedSchemaError(where, 'no type (any value)');
    }
    const allowed = new Set(['type', '$defs', 'definitions']);
    for (const type of types) {
      const keywords = typeof type === 'string' ? TYPE_KEYWORDS[type] : undefined;
      if (!keywords) throw new UnsupportedSchemaError(where, `type ${JSON.stringify(type)}`);
      for (const keyword of keywords) allowed.add(keyword);
    }
    checkKeywords(s, allowed, where);
    if (types.length === 1) return this.typed(types[0] as string, s, name, where);
    const alternatives = (types as string[]).map((type) => this.typed(type, s, `${name}-${type}`, where));
    return this.rule(name, alternatives.join(' | '));
  }

  private typed(type: string, s: Schema, name: string, where: string): string {
    switch (type) {
      case 'object':
        return this.object(s, name, where);
      case 'array':
        return this.array(s, name, where);
      case 'string':
        return this.string(s, where);
      case 'integer':
        return this.rule(name, integerGbnf(s, where));
      case 'number':
        return this.rule(name, numberGbnf(s, where));
      case 'boolean':
        return this.rule('boolean', '"true" | "false"');
      default:
        return '"null"';
    }
  }

  private object(s: Schema, name: string, where: string): string {
    const properties = (s.properties ?? {}) as Record<string, unknown>;
    if (typeof properties !== 'object' || Array.isArray(properties)) {
      throw new UnsupportedSchemaError(where, 'properties is not an object');
    }
    const required = (s.required ?? []) as unknown[];
    if (!Array.isArray(required)) throw new UnsupportedSchemaError(where, 'required is not a list');
    for (const key of required) {
      if (typeof key !== 'string' || !(key in properties)) {
        throw new UnsupportedSchemaError(where, `required key ${JSON.stringify(key)} has no schema in properties`);
      }
    }
    const names = Object.keys(properties);
    if (names.length === 0 && s.additionalProperties !== false) {
      throw new UnsupportedSchemaError(where, 'an object without properties (any keys)');
    }
    const members = names.map((key) => {
      const value = this.value(properties[key], ruleName(`${name}-${key}`), `${where}.${key}`);
      return { key, value, text: `${literal(`${JSON.stringify(key)}:`)} ${value}`, required: required.includes(key) };
    });
    // After a member has been written each later one comes with its comma; before any, the
    // first written member is one of the leading optional ones or the first required one.
    const after = (from: number): string[] =>
      members.slice(from).map((m) => (m.required ? `"," ${m.text}` : `("," ${m.text})?`));
    // The root object (not one alternative of a type list) always opens with its first key when it is required.
    const first = members[0];
    if (this.splitOpening && s === this.root && name === 'root' && first?.required) {
      this.opening = `{${JSON.stringify(first.key)}:`;
      return this.rule(name, [first.value, ...after(1), '"}"'].join(' '));
    }
    const firsts: string[] = [];
    for (let i = 0; i < members.length; i++) {
      firsts.push([members[i]!.text, ...after(i + 1)].join(' '));
      if (members[i]!.required) break;
    }
    if (firsts.length === 0) return '"{}"';
    const choice = firsts.length === 1 ? firsts[0]! : `(${firsts.join(' | ')})`;
    const body = members.some((m) => m.required) ? choice : `${firsts.length === 1 ? `(${choice})` : choice}?`;
    return this.rule(name, `"{" ${body} "}"`);
  }

  private array(s: Schema, name: string, where: string): string {
    const min = count(s.minItems, 0, where, 'minItems');
    const max = s.maxItems === undefined ? undefined : count(s.maxItems, 0, where, 'maxItems');
    if (max !== undefined && max < min) throw new UnsupportedSchemaError(where, 'maxItems < minItems (no value)');
    if (max === 0) return '"[]"';
    if (Array.isArray(s.items) || s.items === undefined) {
      throw new UnsupportedSchemaError(where, 'items must be one schema');
    }
    const item = this.value(s.items, `${name}-item`, `${where}[]`);
    const rest = repeat(`"," ${item}`, Math.max(0, min - 1), max === undefined ? undefined : max - 1);
    const items = rest === '' ? item : `${item} ${rest}`;
    return this.rule(name, min === 0 ? `"[" (${items})? "]"` : `"[" ${items} "]"`);
  }

  private string(s: Schema, where: string): string {
    const min = count(s.minLength, 0, where, 'minLength');
    const max = s.maxLength === undefined ? undefined : count(s.maxLength, 0, where, 'maxLength');
    if (max !== undefined && max < min) throw new UnsupportedSchemaError(where, 'maxLength < minLength (no value)');
    this.rules.set('char', '[\\x20-\\x21\\x23-\\x5b\\x5d-\\ud7ff\\ue000-\\U0010ffff] | "\\\\" ["\\\\/bfnrt]');
    const chars = repeat('char', min, max);
    const suffix = max === undefined ? (min === 0 ? '' : `-${min}`) : `-${min}-${max}`;
    return this.rule(`string${suffix}`, chars === '' ? '"\\"\\""' : `"\\"" ${chars} "\\""`);
  }

  private literals(s: Schema, name: string, where: string): string {
    checkKeywords(s, new Set(['const', 'enum', 'type']), where);
    const values = s.const !== undefined ? [s.const] : s.enum;
    if (!Array.isArray(values)) throw new UnsupportedSchemaError(where, 'enum is not a list');
    // A `type` beside the values only narrows them.
    const types = s.type === undefined ? undefined : ([] as unknown[]).concat(s.type);
    const kept = values.filter((v) => !types || types.some((t) => hasType(v, t)));
    if (kept.length === 0) throw new UnsupportedSchemaError(where, 'enum without a value of its type');
    const literals = kept.map((v) => literal(JSON.stringify(v)));
    return literals.length === 1 ? literals[0]! : this.rule(name, literals.join(' | '));
  }

  private alternatives(s: Schema, name: string, where: string): string {
    const key = s.anyOf !== undefined ? 'anyOf' : 'oneOf';
    checkKeywords(s, new Set([key, '$defs', 'definitions']), where);
    const options = s[key];
    if (!Array.isArray(options) || options.length === 0)
      throw new UnsupportedSchemaError(where, `${key} is not a list`);
    const parts = options.map((option, i) => this.value(option, `${name}-${i}`, `${where}.${key}[${i}]`));
    return this.rule(name, parts.join(' | '));
  }

  /** A local $ref: one rule per definition, written once (recursion goes through the rule name). */
  private ref(s: Schema, where: string): string {
    checkKeywords(s, new Set(['$ref']), where);
    const match = typeof s.$ref === 'string' ? /^#\/(\$defs|definitions)\/([^/~]+)$/.exec(s.$ref) : null;
    const definitions = match ? (this.root[match[1]!] as Record<string, unknown> | undefined) : undefined;
    const target = match && definitions ? definitions[match[2]!] : undefined;
    if (!match || target === undefined) throw new UnsupportedSchemaError(where, `$ref ${JSON.stringify(s.$ref)}`);
    const name = ruleName(`def-${match[2]!}`);
    if (this.rules.has(name) || this.reserved.has(name)) return name;
    return this.named(name, () => this.value(target, name, s.$ref as string));
  }

  /** A rule with this body: an existing one with the same body, or a new one named after `name`. */
  private rule(name: string, body: string): string {
    if (this.reserved.delete(name)) {
      this.rules.set(name, body);
      this.byBody.set(body, name);
      return name;
    }
    const existing = this.byBody.get(body);
    if (existing) return existing;
    let unique = name;
    for (let i = 2; this.rules.has(unique); i++) unique = `${name}${i}`;
    this.rules.set(unique, body);
    this.byBody.set(body, unique);
    return unique;
  }
}

function checkKeywords(s: Schema, allowed: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(s)) {
    if (!allowed.has(key) && !ANNOTATIONS.has(key)) {
      throw new UnsupportedSchemaError(where, `keyword "${key}"${s.type ? ` on type ${JSON.stringify(s.type)}` : ''}`);
    }
  }
}

function hasType(value: unknown, type: unknown): boolean {
  if (type === 'integer') return Number.isInteger(value);
  if (type === 'null') return value === null;
  if (type === 'array') return Array.isArray(value);
  if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  return typeof value === type;
}

function count(value: unknown, fallback: number, where: string, keyword: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 0) {
    throw new UnsupportedSchemaError(where, `${keyword} ${JSON.stringify(value)}`);
  }
  return value as number;
}

function ruleName(text: string): string {
  return text.replace(/[^a-zA-Z0-9-]+/g, '-');
}

/** `expr` repeated min to max times (no max: unbounded); '' for exactly zero times. */
function repeat(expr: string, min: number, max: number | undefined): string {
  const grouped = /^[\w-]+$/.test(expr) ? expr : `(${expr})`;
  if (max === undefined) return min === 0 ? `${grouped}*` : min === 1 ? `${grouped}+` : `${grouped}{${min},}`;
  if (max === 0) return '';
  if (min === max) return min === 1 ? expr : `${grouped}{${min}}`;
  return min === 0 && max === 1 ? `${grouped}?` : `${grouped}{${min},${max}}`;
}

/** A GBNF string literal matching exactly `json`: JSON text, which holds no control characters. */
function literal(json: string): string {
  return `"${json.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The tightest bounds of minimum/exclusiveMinimum and maximum/exclusiveMaximum, within 15 digits. */
interface Bounds {
  low: number;
  lowExclusive: boolean;
  high: number;
  highExclusive: boolean;
}

function realBounds(s: Schema, where: string): Bounds {
  for (const keyword of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) {
    const value = s[keyword];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw new UnsupportedSchemaError(where, `${keyword} ${JSON.stringify(value)}`);
    }
  }
  const bounds: Bounds = { low: -LARGEST, lowExclusive: false, high: LARGEST, highExclusive: false };
  // An exclusive bound equal to an inclusive one is the tighter.
  if (typeof s.minimum === 'number' && s.minimum > bounds.low) bounds.low = s.minimum;
  if (typeof s.exclusiveMinimum === 'number' && s.exclusiveMinimum >= bounds.low) {
    bounds.low = s.exclusiveMinimum;
    bounds.lowExclusive = true;
  }
  if (typeof s.maximum === 'number' && s.maximum < bounds.high) bounds.high = s.maximum;
  if (typeof s.exclusiveMaximum === 'number' && s.exclusiveMaximum <= bounds.high) {
    bounds.high = s.exclusiveMaximum;
    bounds.highExclusive = true;
  }
  return bounds;
}

/** The smallest and largest integer within the bounds; undefined when there is none. */
function integersWithin(b: Bounds): [number, number] | undefined {
  const min = b.lowExclusive ? Math.floor(b.low) + 1 : Math.ceil(b.low);
  const max = b.highExclusive ? Math.ceil(b.high) - 1 : Math.floor(b.high);
  return min <= max ? [min, max] : undefined;
}

function integerGbnf(s: Schema, where: string): string {
  const integers = integersWithin(realBounds(s, where));
  if (!integers) throw new UnsupportedSchemaError(where, 'no integer within the bounds');
  return integerRangeGbnf(...integers);
}

/**
 * Exactly the integers min..max, as GBNF alternatives (ascending): e.g. 0..100 is
 * `[0-9] | [1-9] [0-9] | "100"`; negative numbers carry a "-", zero never does.
 */
export function integerRangeGbnf(min: number, max: number): string {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) {
    throw new RangeError(`not an integer range: ${min}..${max}`);
  }
  const alternatives: string[] = [];
  // Negative numbers: "-" and their magnitudes, largest first so the alternatives ascend.
  if (min < 0) {
    const magnitudes = nonNegativeRange(Math.max(1, -max), -min);
    alternatives.push(...magnitudes.reverse().map((parts) => render(['-', ...parts])));
  }
  if (max >= 0) alternatives.push(...nonNegativeRange(Math.max(0, min), max).map(render));
  return alternatives.join(' | ');
}

/** A digit ('7'), a digit class ('[1-9]'), or the minus sign. */
type Part = string;

/** Digit sequences matching exactly lo..hi (0 ≤ lo ≤ hi), split by number of digits. */
function nonNegativeRange(lo: number, hi: number): Part[][] {
  const out: Part[][] = [];
  for (let digits = String(lo).length; digits <= String(hi).length; digits++) {
    const from = Math.max(lo, digits === 1 ? 0 : 10 ** (digits - 1));
    const to = Math.min(hi, 10 ** digits - 1);
    out.push(...sameLength(String(from), String(to)));
  }
  return out;
}

/** Digit sequences matching exactly the numbers a..b, written with the same number of digits. */
function sameLength(a: string, b: string): Part[][] {
  if (a.length === 0) return [[]];
  if (a[0] === b[0]) return sameLength(a.slice(1), b.slice(1)).map((rest) => [a[0]!, ...rest]);
  const tail = a.length - 1;
  const fromZero = /^0*$/.test(a.slice(1));
  const toNine = /^9*$/.test(b.slice(1));
  const first = Number(a[0]) + (fromZero ? 0 : 1);
  const last = Number(b[0]) - (toNine ? 0 : 1);
  const out: Part[][] = [];
  if (!fromZero) out.push(...sameLength(a.slice(1), '9'.repeat(tail)).map((rest) => [a[0]!, ...rest]));
  if (first <= last) out.push([digitClass(first, last), ...Array<Part>(tail).fill('[0-9]')]);
  if (!toNine) out.push(...sameLength('0'.repeat(tail), b.slice(1)).map((rest) => [b[0]!, ...rest]));
  return out;
}

function digitClass(first: number, last: number): Part {
  return first === last ? String(first) : `[${first}-${last}]`;
}

/** Parts as GBNF: runs of plain characters as one literal, runs of one class as a repetition. */
function render(parts: Part[]): string {
  const out: string[] = [];
  for (let i = 0; i < parts.length;) {
    let j = i + 1;
    if (parts[i]!.startsWith('[')) {
      while (j < parts.length && parts[j] === parts[i]) j++;
      out.push(j - i === 1 ? parts[i]! : `${parts[i]!}{${j - i}}`);
    } else {
      while (j < parts.length && !parts[j]!.startsWith('[')) j++;
      out.push(`"${parts.slice(i, j).join('')}"`);
    }
    i = j;
  }
  return out.join(' ');
}

/**
 * A bounded non-integer number: the integers in range, and k.ddd (1 to FRACTION_DIGITS digits)
 * wherever every such value lies in range: 0 ≤ k with low ≤ k and k + 1 ≤ high; negative
 * -(k.ddd) with low ≤ -(k + 1) and -k in range.
 */
function numberGbnf(s: Schema, where: string): string {
  const bounds = realBounds(s, where);
  const integers = integersWithin(bounds);
  if (!integers) throw new UnsupportedSchemaError(where, 'bounds narrower than a unit interval');
  const fraction = `"." [0-9]{1,${FRACTION_DIGITS}}`;
  const alternatives = [`(${integerRangeGbnf(...integers)})`];
  // Negative: -(k.ddd) lies in (-(k + 1), -k]: -k must be allowed, and -(k + 1) ≥ low.
  const negativeFrom = Math.max(0, -integers[1]);
  const negativeTo = Math.floor(-bounds.low) - 1;
  if (negativeFrom <= negativeTo) alternatives.push(`"-" (${integerRangeGbnf(negativeFrom, negativeTo)}) ${fraction}`);
  // Non-negative: k.ddd lies in [k, k + 1): k must be allowed, and k + 1 ≤ high.
  const positiveFrom = Math.max(0, integers[0]);
  const positiveTo = Math.floor(bounds.high) - 1;
  if (positiveFrom <= positiveTo) alternatives.push(`(${integerRangeGbnf(positiveFrom, positiveTo)}) ${fraction}`);
  return alternatives.join(' | ');
}

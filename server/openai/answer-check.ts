// Checks an answer against the JSON schema its request asked for (response_format json_schema),
// with a real validator: required keys, nested objects, bounds, enums, patterns and formats. The
// runner (retry, pilot check) and the analysis (status `invalid`) read answers through this one
// check, so an answer that breaks its schema is never counted as valid anywhere.
// Why ajv: JSON Schema has dozens of keywords whose edge cases (exclusiveMinimum's two drafts,
// $ref, formats) a hand-written checker gets wrong; ajv is the reference implementation.
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ChatCompletionBody } from '../protocol/openai.js';
import { parseAnswer } from './answer-text.js';

export type AnswerCheck =
  | { valid: true; value: unknown }
  /** `unparseable`: not JSON at all; `invalid`: JSON that breaks the schema. */
  | { valid: false; kind: 'unparseable' | 'invalid'; reason: string };

// ajv-formats is CommonJS with a default export: under NodeNext the import is the module object,
// whose `default` is the function (esbuild's bundle may hand over either).
type AddFormats = (typeof addFormatsModule)['default'];
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

// strict: false, because schemas written for OpenAI or vLLM carry keywords ajv does not know
// (e.g. `strict` hints, titles in odd places): they are ignored, as the engines ignore them.
const ajv = new Ajv({ strict: false, allErrors: false });
addFormats(ajv);

const compiled = new Map<string, ValidateFunction | Error>();

/** The schema a request body asks its answer to follow; undefined without json_schema. */
export function answerSchema(body: Pick<ChatCompletionBody, 'response_format'>): Record<string, unknown> | undefined {
  const format = body.response_format;
  return format?.type === 'json_schema' ? format.json_schema.schema : undefined;
}

/** The compiled validator of a schema (cached by its text), or the reason it does not compile. */
export function schemaValidator(schema: Record<string, unknown>): ValidateFunction | Error {
  const key = JSON.stringify(schema);
  let validator = compiled.get(key);
  if (!validator) {
    try {
      validator = ajv.compile(schema);
    } catch (error) {
      validator = new Error(`the answer schema does not compile: ${(error as Error).message}`);
    }
    compiled.set(key, validator);
  }
  return validator;
}

/**
 * Parses an answer's text and checks it against the schema. Text that is not JSON is read as the
 * analysis reads it (a fenced or slightly broken object repaired where safe: answer-text.ts), so
 * the runner's checks and the scored CSV agree. Without a schema any JSON value is valid (a
 * json_object answer); a schema that does not compile makes every answer invalid, with that
 * reason, rather than letting anything pass.
 */
export function checkAnswer(content: string | null | undefined, schema?: Record<string, unknown>): AnswerCheck {
  let value: unknown;
  try {
    value = JSON.parse(content ?? '');
  } catch {
    const answer = parseAnswer(content);
    if (answer.kind === 'parsed') return checkValue(answer.fields, schema);
    const text = (content ?? '').trim();
    const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    return { valid: false, kind: 'unparseable', reason: `not JSON: ${JSON.stringify(shown)}` };
  }
  return checkValue(value, schema);
}

/** Checks an answer already parsed. */
export function checkValue(value: unknown, schema?: Record<string, unknown>): AnswerCheck {
  if (!schema) return { valid: true, value };
  const validate = schemaValidator(schema);
  if (validate instanceof Error) return { valid: false, kind: 'invalid', reason: validate.message };
  if (validate(value)) return { valid: true, value };
  return { valid: false, kind: 'invalid', reason: describe(validate.errors?.[0]) };
}

/** One line a user can read: `score: must be <= 100` rather than ajv's object. */
function describe(error: ErrorObject | undefined): string {
  if (!error) return 'breaks the schema';
  const where = error.instancePath === '' ? 'answer' : error.instancePath.slice(1).replaceAll('/', '.');
  const allowed =
    error.keyword === 'enum' ? `: ${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)}` : '';
  return `${where} ${error.message ?? 'breaks the schema'}${allowed}`;
}

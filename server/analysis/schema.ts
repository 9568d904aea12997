// The JSON schema the batch's answers were asked to follow, read from its input: `convert --schema`
// puts the same response_format on every request line, so the first line stands for the batch.
// The answers are checked against the whole schema by the one answer check (openai/answer-check);
// here each top-level field's type, range and enum only shape its summary (a number field, bins
// over the range, every allowed value counted).
import { basename } from 'node:path';
import { isObject } from '../common/is-object.js';
import { readLines } from '../jsonl/lines.js';
import { answerSchema } from '../openai/answer-check.js';
import { AnalysisError } from './join.js';
import type { FieldRule } from './stats.js';

/** What the schema says of each property, in the schema's order (an empty rule where it says nothing a summary uses). */
export function fieldRules(schema: unknown): Map<string, FieldRule> {
  const rules = new Map<string, FieldRule>();
  const properties = isObject(schema) && isObject(schema.properties) ? schema.properties : {};
  for (const [name, property] of Object.entries(properties)) {
    if (!isObject(property)) continue;
    const rule: FieldRule = {};
    if (typeof property.minimum === 'number') rule.minimum = property.minimum;
    if (typeof property.maximum === 'number') rule.maximum = property.maximum;
    if (Array.isArray(property.enum)) rule.enum = property.enum.map(String);
    const types: unknown[] = Array.isArray(property.type) ? property.type : [property.type];
    if (types.includes('number') || types.includes('integer')) rule.numeric = true;
    rules.set(name, rule);
  }
  return rules;
}

/** The schema of a property of an object schema, where it has one. */
export function propertySchema(schema: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const property = isObject(schema.properties) ? schema.properties[name] : undefined;
  return isObject(property) ? property : undefined;
}

/** The json_schema response_format's schema of the input file's first request; undefined without one. */
export async function readAnswerSchema(input: string): Promise<Record<string, unknown> | undefined> {
  for await (const line of readLines(input)) {
    const text = line.bytes?.toString('utf8').trim();
    if (text === '') continue;
    let request: unknown;
    try {
      request = JSON.parse(text ?? '');
    } catch {
      request = null;
    }
    if (!isObject(request)) throw new AnalysisError(`${basename(input)} line ${line.number}: not a batch request line`);
    const body = isObject(request.body) ? request.body : {};
    const format = body.response_format;
    // A malformed response_format (no json_schema object) asks for no schema, as the engines read it.
    if (!isObject(format) || !isObject(format.json_schema) || !isObject(format.json_schema.schema)) return undefined;
    return answerSchema(body);
  }
  return undefined;
}

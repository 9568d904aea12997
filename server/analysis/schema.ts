// The rules the answer's JSON schema sets for each top-level field, read from the batch's input:
// `convert --schema` puts the same response_format on every request line, so the first line
// stands for the batch. Only `type` (number or integer), `minimum`, `maximum` and `enum` are used:
// they are what separates a score of 150 or a decision of "perhaps" from a valid answer.
import { basename } from 'node:path';
import { isObject } from '../common/is-object.js';
import { readLines } from '../jsonl/lines.js';
import { AnalysisError } from './join.js';
import type { FieldRule } from './stats.js';

/** The rule of each property of a JSON schema that has one. */
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
    if (Object.keys(rule).length > 0) rules.set(name, rule);
  }
  return rules;
}

/** The rules of the json_schema response_format of the input file's first request; none without one. */
export async function readFieldRules(input: string): Promise<Map<string, FieldRule>> {
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
    const format = isObject(request.body) ? request.body.response_format : undefined;
    return fieldRules(
      isObject(format) && format.type === 'json_schema' && isObject(format.json_schema)
        ? format.json_schema.schema
        : undefined,
    );
  }
  return new Map();
}

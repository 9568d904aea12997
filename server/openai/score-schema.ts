// The score-only answer schema of a cascade's first pass, derived from the full answer schema:
// the one numeric field that ranks the rows, kept with its own bounds, everything else dropped.
// A score costs a handful of generated tokens where the full answer (decision, strengths,
// concerns, reason) costs dozens: on a GPU, where decoding dominates, that is the cascade's gain.
import { isObject } from '../common/is-object.js';

export class ScoreSchemaError extends Error {}

/** The numeric field that ranks the rows: `preferred` if given, else the first integer or number property. */
export function scoreFieldOf(schema: Record<string, unknown>, preferred?: string): string {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const numeric = Object.keys(properties).filter((name) => {
    const property = properties[name];
    return isObject(property) && (property.type === 'integer' || property.type === 'number');
  });
  if (preferred !== undefined) {
    if (!numeric.includes(preferred))
      throw new ScoreSchemaError(
        `the schema has no integer or number property "${preferred}"${numeric.length > 0 ? `; its numeric properties: ${numeric.join(', ')}` : ''}`,
      );
    return preferred;
  }
  if (numeric.length === 0)
    throw new ScoreSchemaError('the schema has no integer or number property to rank by (a score field)');
  return numeric[0]!;
}

/** The schema of an answer that is only the score field, with that field's own bounds. */
export function scoreOnlySchema(schema: Record<string, unknown>, field: string): Record<string, unknown> {
  const properties = schema.properties as Record<string, unknown>;
  return {
    type: 'object',
    properties: { [field]: properties[field] },
    required: [field],
    additionalProperties: false,
  };
}

/** Characters of the longest compact score answer, e.g. `{"score":100}`; 16 digits where unbounded. */
function longestAnswerChars(field: string, property: Record<string, unknown>): number {
  const bound = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
  const [minimum, maximum] = [bound(property.minimum), bound(property.maximum)];
  const digits =
    minimum === null || maximum === null
      ? 17
      : Math.max(String(Math.trunc(minimum)).length, String(Math.trunc(maximum)).length) +
        (property.type === 'number' ? 4 : 0);
  return JSON.stringify({ [field]: 0 }).length - 1 + digits;
}

/** Room for whitespace an engine's grammar may allow, and the end-of-text token. */
const SCORE_SLACK_TOKENS = 8;

/**
 * max_tokens for the score-only answer: one token per character of the longest compact answer
 * (no tokenizer spends more on ASCII), plus slack. Small, so a runaway answer costs little, yet
 * never cuts a score in range.
 */
export function scoreMaxTokens(schema: Record<string, unknown>, field: string): number {
  const property = (schema.properties as Record<string, Record<string, unknown>>)[field]!;
  return longestAnswerChars(field, property) + SCORE_SLACK_TOKENS;
}

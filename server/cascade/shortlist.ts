// Which rows of a cascade's first pass go on to the second: the top K% by score, or every row
// scoring at least a threshold. Top K% ranks as the analysis does: by the expected score where
// the answer has logprobs (so the rows of one integer score are not cut in file order, and the
// joined CSV's order agrees with the shortlist), else by the score. Read from pass 1's output file in two streamed passes (the
// scores, then the ids that make the cut), so 170,000 rows keep memory flat: one number each.
import { expectedScore } from '../analysis/expected-score.js';
import { propertySchema } from '../analysis/schema.js';
import { isObject } from '../common/is-object.js';
import { readLines } from '../jsonl/lines.js';
import { checkAnswer, schemaValidator } from '../openai/answer-check.js';
import type { TokenLogprob } from '../openai/types.js';
import type { ShortlistRule } from '../protocol/cascade.js';

/**
 * Each answered line of an output file: its custom_id, its schema-valid score (or null) and its
 * rank (the expected score where the logprobs give one, else the score).
 */
async function* scores(
  outputPath: string,
  field: string,
  schema: Record<string, unknown>,
): AsyncGenerator<{ customId: string; score: number | null; rank: number | null }> {
  const fieldSchema = propertySchema(schema, field);
  const validate = fieldSchema ? schemaValidator(fieldSchema) : null;
  const allowed = (value: number): boolean => !validate || (!(validate instanceof Error) && validate(value));
  for await (const line of readLines(outputPath)) {
    if (!line.bytes || line.bytes.length === 0) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.bytes.toString('utf8'));
    } catch {
      continue; // a torn last line: not an answer
    }
    if (!isObject(parsed) || typeof parsed.custom_id !== 'string') continue;
    const body = isObject(parsed.response) && isObject(parsed.response.body) ? parsed.response.body : {};
    const choice: unknown = Array.isArray(body.choices) ? (body.choices as unknown[])[0] : undefined;
    const content = isObject(choice) && isObject(choice.message) ? choice.message.content : undefined;
    const check = checkAnswer(typeof content === 'string' ? content : null, schema);
    // Only a schema-valid score ranks: an invalid answer never makes the shortlist.
    const value = check.valid && isObject(check.value) ? check.value[field] : undefined;
    const score = typeof value === 'number' && Number.isFinite(value) ? value : null;
    const tokens = isObject(choice) && isObject(choice.logprobs) ? choice.logprobs.content : undefined;
    const expected =
      score !== null && typeof content === 'string' && Array.isArray(tokens)
        ? expectedScore(content, tokens as TokenLogprob[], field, allowed)
        : null;
    yield { customId: parsed.custom_id, score, rank: expected?.expected ?? score };
  }
}

export interface ShortlistOptions {
  /** Pass 1's output file. */
  output: string;
  rule: ShortlistRule;
  field: string;
  /** The score-only schema the answers are checked against. */
  schema: Record<string, unknown>;
  /** Rows in pass 1 (failed ones included): top K% is of them all. */
  total: number;
}

/**
 * The custom_ids that go on to pass 2. Top K% takes ceil(K% of all rows) with the highest ranks
 * among valid scores; where a tie straddles the cut, the first in the output file's order go (the file is
 * fixed once pass 1 has completed, so a recomputation after a crash picks the same rows).
 */
export async function selectShortlist(options: ShortlistOptions): Promise<Set<string>> {
  const { output, rule, field, schema } = options;
  let cutoff: number;
  let atCutoff: number;
  if (rule.kind === 'min') {
    cutoff = rule.score;
    atCutoff = Infinity;
  } else {
    let values = new Float64Array(1024);
    let count = 0;
    for await (const { rank } of scores(output, field, schema)) {
      if (rank === null) continue;
      if (count === values.length) {
        const grown = new Float64Array(values.length * 2);
        grown.set(values);
        values = grown;
      }
      values[count++] = rank;
    }
    const wanted = Math.min(count, Math.ceil((options.total * rule.percent) / 100));
    if (wanted === 0) return new Set();
    const sorted = values.subarray(0, count).sort().reverse();
    cutoff = sorted[wanted - 1]!;
    atCutoff = wanted - sorted.findIndex((value) => value === cutoff);
  }
  const shortlist = new Set<string>();
  for await (const { customId, score, rank } of scores(output, field, schema)) {
    // `>= S` is the score as written; top K% is by rank.
    const value = rule.kind === 'min' ? score : rank;
    if (value === null || value < cutoff) continue;
    if (value === cutoff && rule.kind === 'top') {
      if (atCutoff === 0) continue;
      atCutoff--;
    }
    shortlist.add(customId);
  }
  return shortlist;
}

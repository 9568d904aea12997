// Which rows of a cascade's first pass go on to the second: the top K% by score, or every row
// scoring at least a threshold. Read from pass 1's output file in two streamed passes (the
// scores, then the ids that make the cut), so 170,000 rows keep memory flat: one number each.
import { isObject } from '../common/is-object.js';
import { readLines } from '../jsonl/lines.js';
import { checkAnswer } from '../openai/answer-check.js';
import type { ShortlistRule } from '../protocol/cascade.js';

/** Each answered line of an output file: its custom_id and its schema-valid score, or null. */
async function* scores(
  outputPath: string,
  field: string,
  schema: Record<string, unknown>,
): AsyncGenerator<{ customId: string; score: number | null }> {
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
    yield { customId: parsed.custom_id, score: typeof value === 'number' && Number.isFinite(value) ? value : null };
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
 * The custom_ids that go on to pass 2. Top K% takes ceil(K% of all rows) with the highest valid
 * scores; where a tie straddles the cut, the first in the output file's order go (the file is
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
    for await (const { score } of scores(output, field, schema)) {
      if (score === null) continue;
      if (count === values.length) {
        const grown = new Float64Array(values.length * 2);
        grown.set(values);
        values = grown;
      }
      values[count++] = score;
    }
    const wanted = Math.min(count, Math.ceil((options.total * rule.percent) / 100));
    if (wanted === 0) return new Set();
    const sorted = values.subarray(0, count).sort().reverse();
    cutoff = sorted[wanted - 1]!;
    atCutoff = wanted - sorted.findIndex((value) => value === cutoff);
  }
  const shortlist = new Set<string>();
  for await (const { customId, score } of scores(output, field, schema)) {
    if (score === null || score < cutoff) continue;
    if (score === cutoff && rule.kind === 'top') {
      if (atCutoff === 0) continue;
      atCutoff--;
    }
    shortlist.add(customId);
  }
  return shortlist;
}

// The batch metadata that makes two batches one cascade: pass 1 (a score-only answer for every
// row) names the full-schema request file and the shortlist rule; when it completes, the daemon
// creates pass 2 (the full answer for the shortlisted rows), which names pass 1. The link lives
// in the batches' own metadata, in the daemon's store, so it survives any restart; any client
// (the CLI, the extension, an OpenAI client over HTTP) starts a cascade by creating pass 1 so.
export const CASCADE_METADATA = {
  /** "1" or "2". */
  pass: 'cascade_pass',
  /** Pass 1: the id of the registered file of full-schema requests, one per row. */
  fullInputFileId: 'cascade_full_input_file_id',
  /** "top K%" or ">= SCORE". */
  shortlist: 'cascade_shortlist',
  /** The answer field that ranks the rows. */
  scoreField: 'cascade_score_field',
  /** Pass 2: its pass 1's batch id. */
  of: 'cascade_of',
} as const;

/** Which rows of pass 1 go on to pass 2: the top K% by score, or every row scoring at least a threshold. */
export type ShortlistRule = { kind: 'top'; percent: number } | { kind: 'min'; score: number };

export class ShortlistRuleError extends Error {}

/** The rule as batch metadata and people write it: `top 10%` or `>= 80`. */
export function shortlistText(rule: ShortlistRule): string {
  return rule.kind === 'top' ? `top ${rule.percent}%` : `>= ${rule.score}`;
}

export function parseShortlist(text: string): ShortlistRule {
  const top = /^top\s+(\d+(?:\.\d+)?)\s*%$/i.exec(text.trim());
  if (top) {
    const percent = Number(top[1]);
    if (percent > 0 && percent <= 100) return { kind: 'top', percent };
  }
  const min = /^>=\s*(-?\d+(?:\.\d+)?)$/.exec(text.trim());
  if (min) return { kind: 'min', score: Number(min[1]) };
  throw new ShortlistRuleError(
    `shortlist ${JSON.stringify(text)}: expected "top K%" (0 < K <= 100) or ">= SCORE", e.g. "top 10%" or ">= 80"`,
  );
}

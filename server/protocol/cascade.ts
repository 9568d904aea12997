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

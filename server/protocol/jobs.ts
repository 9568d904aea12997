// The params and answers of the jobs a client has the daemon do on files: validate a batch file,
// convert a CSV into one, analyse a batch's results. Plain data: the daemon's validator, converter
// and analysis keep their own types, checked against these where the daemon answers (rpc/).
import type { BatchError, BatchInputLine, ReasoningEffort } from './openai.js';

/** The `source` of the language server's diagnostics of batch files, which the client looks for. */
export const DIAGNOSTIC_SOURCE = 'ollama-batch';

export interface ValidationReport {
  /** Request lines (blank lines are not counted). */
  requests: number;
  model: string | null;
  /** The first maxErrors errors. */
  errors: BatchError[];
  /** All errors, including those past the cap. */
  errorCount: number;
}

/** The alternatives convert asks for at each answer token where a schema shapes the answer (expected scores). */
export const DEFAULT_TOP_LOGPROBS = 5;

export type CsvEncoding = 'utf8' | 'utf16le' | 'utf16be' | 'latin1';

export interface ConvertParams {
  input: string;
  /** The JSONL to write; without one (a dry run) nothing is written. */
  output?: string;
  /** `{{column}}` template text for the user message; without one, every column as `column: value`. */
  template?: string;
  /** The column whose values are the custom_ids; without one, `row-N` for the Nth row. */
  idColumn?: string;
  delimiter?: string;
  encoding?: CsvEncoding;
  /** Keep rows with too few or too many fields or undecodable bytes (padded or cut), reported. */
  keepBadRows?: boolean;
  /** The num_ctx setting: the estimate checks each line against it (default 8192, context/num-ctx.ts), within the model's limit. */
  numCtx?: number;
  model: string;
  systemPrompt?: string;
  temperature?: number;
  seed?: number;
  maxTokens?: number;
  /** A JSON schema for the answer: response_format json_schema, strict. */
  schema?: Record<string, unknown>;
  /** OpenAI's reasoning_effort: none turns thinking off; unset leaves it to the model. */
  reasoningEffort?: ReasoningEffort;
  /**
   * top_logprobs of every answer, for the analysis's expected scores (default DEFAULT_TOP_LOGPROBS
   * where a schema shapes the answer, except a cascade's full answers: pass 1's scores rank; 0 asks
   * for none).
   */
  topLogprobs?: number;
  /**
   * Also write a cascade's first pass: the score-only requests of every row (the schema's score
   * field alone, a small max_tokens, no thinking), to `scoreOutputPath(output)`.
   */
  cascade?: boolean;
  /** The schema field that ranks the rows in a cascade (default: its first integer or number property). */
  scoreField?: string;
  /** The share of rows a cascade's second pass explains, for the estimate (default 0.1). */
  shortlistShare?: number;
}

/** A cascade's first pass, as convert wrote it. */
export interface CascadeConversion {
  /** null in a dry run. */
  score_output: string | null;
  score_field: string;
  score_max_tokens: number;
  /** Pass 1's top_logprobs (its expected scores rank the rows); null when they ask for none. */
  score_top_logprobs: number | null;
  score_schema: Record<string, unknown>;
  /** The first score-only request line. */
  score_sample: BatchInputLine | null;
}

/**
 * Projected engine time from tokens per line and an engine's rates: a line costs its evaluated
 * prompt tokens (the shared prefix comes from the KV cache) at the prefill rate plus its
 * generated tokens at the decode rate. Without learned figures the rates are published ones for
 * a 16 GB card running a 12B Q4 model (README, "The cascade"), and the answer's length is the
 * sample job's full answer on such a model: a projection, not a measurement.
 */
export interface Projection {
  prefill_tokens_per_second: number;
  decode_tokens_per_second: number;
  /** Prompt tokens per line after the shared prefix. */
  evaluated_prompt_tokens: number;
  /** Generated tokens of a full answer (assumed). */
  answer_tokens: number;
  /** 'off' (reasoning_effort none or minimal), the effort, or 'model default' when unset. */
  thinking: string;
  /** Thinking tokens per line assumed while thinking is on or left to the model; 0 when off. */
  thinking_tokens: number;
  single_pass_seconds: number;
  /** single_pass_seconds without the thinking tokens: what turning thinking off saves. */
  single_pass_seconds_without_thinking: number;
  /** Null without a score field (no --cascade). */
  cascade: {
    score_tokens: number;
    shortlist_share: number;
    seconds: number;
    /** cascade seconds ÷ single pass seconds. */
    ratio: number;
  } | null;
}

export interface RowProblem {
  /** The line of the file where the row starts. */
  line: number;
  reason: string;
}

/** Every token figure is in the model's tokens: o200k_base counts times calibration_factor. */
export interface ConvertEstimate {
  calibration_factor: number;
  /** 'learned' from an engine's prompt_tokens, or the default 'safety_margin'. */
  calibration: 'learned' | 'safety_margin';
  lines: number;
  prompt_tokens: { min: number; mean: number; p95: number; max: number; total: number } | null;
  /** The system prompt and the template's static start, the same on every line. */
  shared_prefix_tokens: number;
  max_tokens: number | null;
  /** max_tokens times the lines: the most the batch may generate. */
  output_tokens_budget: number | null;
  /** The context window the lines must fit (prompt and max_tokens together), and what set it. */
  num_ctx: number;
  num_ctx_source: 'setting' | 'assumed' | 'model limit' | 'learned limit';
  /** Lines whose prompt plus max_tokens exceed num_ctx. */
  lines_over_context: number;
  /** The custom_ids of the first of them. */
  over_context_ids: string[];
  requests_per_second: number | null;
  eta_seconds: number | null;
  /** Time per line from tokens and rates: single pass, thinking's cost, and a cascade. */
  projection: Projection;
}

export interface ConvertReport {
  input: string;
  /** null in a dry run. */
  output: string | null;
  encoding: CsvEncoding;
  delimiter: string;
  columns: string[];
  /** Rows after the header, bad ones included. */
  rows_read: number;
  /** Request lines written (in a dry run: that would be written). */
  lines_written: number;
  /** The first few skipped rows. */
  skipped: RowProblem[];
  skipped_count: number;
  /** The first few rows kept in spite of a problem (keepBadRows). */
  kept_bad_rows: RowProblem[];
  kept_bad_rows_count: number;
  /** The first request line. */
  sample: BatchInputLine | null;
  /** The requests' reasoning_effort: "none" by default where answers follow a schema; null leaves it to the model. */
  reasoning_effort: ReasoningEffort | null;
  /** The requests' top_logprobs (expected scores in the analysis); null when they ask for none (by default a cascade's full answers). */
  top_logprobs: number | null;
  /** Null without --cascade. */
  cascade: CascadeConversion | null;
  estimate: ConvertEstimate;
}

/** Either the files, or a batch whose output and error files are analysed (its input gives the
 *  answer's schema). A batch that is either pass of a cascade: both passes joined, in pass 1's
 *  order, on the cascade's source CSV unless `source` names another. */
export interface AnalyzeParams {
  batch_id?: string;
  /** The batch output JSONL. */
  output?: string;
  /** The batch error JSONL. */
  errors?: string;
  /** The batch input JSONL: its first request's json_schema response_format is the schema every
   *  answer is checked against. */
  input?: string;
  /** The CSV the batch was made from: joins the answers to its rows. */
  source?: string;
  idColumn?: string;
  /** The source's text encoding; default detected, as `convert` does. */
  encoding?: CsvEncoding;
  /** Where the joined CSV goes; default `<output without .jsonl>.scored.csv`. */
  csv?: string;
  /** False writes the joined CSV's cells as they are, for a viewer such as the results panel;
   *  default true: cells a spreadsheet would read as formulas get a leading '. */
  neutralise?: boolean;
  /** An answer field or a source column; default the first numeric answer field. */
  sortBy?: string;
  /** The joined CSV's order; default desc. */
  order?: 'asc' | 'desc';
  /** How many top and bottom rows to list; default 5. */
  top?: number;
}

export interface Bin {
  /** Inclusive lower edge. */
  from: number;
  /** Exclusive upper edge, except for the last bin, which includes the maximum. */
  to: number;
  count: number;
}

export interface NumberSummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  histogram: Bin[];
  /** Values below and above the bins: outliers, when no schema range sets the bins. */
  below: number;
  above: number;
}

/** One answer field across the answers that follow the schema. */
export type FieldSummary =
  | {
      type: 'number';
      /** Of the numbers; null when no answer holds one. */
      stats: NumberSummary | null;
      /** Present values that are not finite numbers (text, booleans, 1e999). */
      not_number: number;
      /** The schema's minimum and maximum; null when it gives neither. */
      range: { minimum: number | null; maximum: number | null } | null;
    }
  | { type: 'enum'; counts: Record<string, number> }
  | { type: 'other'; present: number };

export interface TopRow {
  custom_id: string;
  /** The answer's value of the sort field. */
  value: number | string;
  /** The expected score and its standard deviation, when the answer's logprobs gave them. */
  expected: number | null;
  sd: number | null;
  /** A short excerpt of the answer's reason field, when it has one. */
  reason: string | null;
}

/** Expected scores from the logprobs at the score's tokens, G-Eval style. */
export interface ExpectedScores {
  /** The score field: the one ranked by default. */
  field: string;
  /** The scored CSV's columns holding them, after the score's. */
  columns: { expected: string; sd: string };
  /** Valid answers with an expected score, and without one (no logprobs at the score's tokens). */
  rows: number;
  without: number;
  /** The valid answers whose score is least certain (largest sd) first: the ones to review. */
  most_uncertain: TopRow[];
}

/** The CSV the answers were joined to. */
export interface JoinSummary {
  path: string;
  rows: number;
  /** Source rows without a result line. */
  missing: number;
  /** Results whose custom_id matches no source row. */
  unmatched: number;
  /** The source column holding the custom_ids; null when they are `row-N`. */
  id_column: string | null;
  /** The joined CSV's column holding each row's custom_id: the id column, or an added leading one. */
  custom_id_column: string;
  /** The columns the join added after the source's: the answer fields, status, error. */
  added_columns: string[];
  sort_by: string | null;
  order: 'asc' | 'desc';
}

export interface AnalysisReport {
  output_file: string;
  error_file: string | null;
  /** Non-blank lines read from both files. */
  lines: number;
  succeeded: number;
  failed: number;
  failures_by_code: Record<string, number>;
  /** Lines that are not result lines (invalid JSON, no custom_id), with the first few named. */
  malformed: { count: number; lines: Array<{ file: string; line: number; problem: string }> };
  /** Lines for a custom_id seen before; only the first counts. */
  duplicates: number;
  tokens: { prompt: number; completion: number; cached: number };
  /** `length` means the answer was cut at max_tokens. */
  finish_reasons: Record<string, number>;
  /** Null when no line recorded its latency. */
  latency_ms: { count: number; p50: number; p95: number; p99: number } | null;
  answers: {
    /** Whether the answers were checked against a JSON schema (the input's json_schema). */
    schema: boolean;
    /** Parsed answers that follow the schema (every parsed one without a schema): the `ok` rows. */
    valid: number;
    /** Includes the repaired ones and the invalid ones. */
    parsed: number;
    repaired: number;
    /** Parsed answers that break the schema, the first few named, counted by reason. */
    invalid: { count: number; custom_ids: string[]; reasons: Record<string, number> };
    unparseable: { count: number; custom_ids: string[] };
    empty: number;
    /** Of the valid answers. */
    fields: Record<string, FieldSummary>;
  };
  /** Null when no answer's score had logprobs to weigh, or there is no score field. */
  expected_scores: ExpectedScores | null;
  /** Set while the batch runs: the report covers the lines done so far. Of a cascade: of the pass
   *  that runs, pass 2's "not made yet" (0 of 0) between pass 1's end and pass 2's creation. */
  partial: { done: number; total: number; status: string } | null;
  /** The field that orders `top` and `bottom`. */
  sort_by: string | null;
  /** The highest values first. */
  top: TopRow[];
  /** The lowest values first. */
  bottom: TopRow[];
  csv?: JoinSummary;
  /** Set where the batch is either pass of a cascade: the report is pass 1's (every row), the CSV
   *  both passes joined. */
  cascade?: CascadeSummary;
}

/** A cascade's two passes, as its analysis joined them. */
export interface CascadeSummary {
  pass1: { batch_id: string; status: string };
  /** Null until the daemon makes it from pass 1's shortlist, when pass 1 completes. */
  pass2: { batch_id: string; status: string } | null;
  /** The shortlist rule: "top 10%" or ">= 80". */
  shortlist: string;
  /** Rows in pass 2's input. */
  shortlisted: number;
  /** Rows with a pass 2 answer. */
  explained: number;
}

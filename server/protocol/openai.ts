// The OpenAI Batch API objects a client of the daemon receives, field for field (see OpenAI's
// Batch and File reference), and the request line a convert report samples: part of the wire
// contract, so they live here and the daemon's own modules take them from here.
// Fields that OpenAI does not define are marked "extension": OpenAI clients ignore them.

export type BatchStatus =
  'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

export const TERMINAL_STATUSES: readonly BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled'];

export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export interface RequestCounts {
  total: number;
  completed: number;
  failed: number;
}

export interface BatchUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface Batch {
  id: string;
  object: 'batch';
  endpoint: string;
  model: string | null;
  errors: { object: 'list'; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number | null;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: RequestCounts;
  usage: BatchUsage;
  metadata: Record<string, string> | null;
  /**
   * extension: why a running batch waits, null while it runs normally: for its engine or for disk
   * space (it goes on by itself), or after the pilot check (PILOT_CHECK_PAUSE: it waits for a resume).
   */
  paused_reason: string | null;
}

/** How the reason of a batch the pilot check paused begins. */
export const PILOT_CHECK_PAUSE = 'pilot check:';

/** A batch that waits for a user's resume (or cancel): the pilot check paused it. */
export const waitsForResume = (batch: Pick<Batch, 'status' | 'paused_reason'>): boolean =>
  batch.status === 'in_progress' && (batch.paused_reason?.startsWith(PILOT_CHECK_PAUSE) ?? false);

export type FilePurpose = 'batch' | 'batch_output';

export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  /** When the daemon deletes it (seconds since the epoch), null when it keeps it until deleted. */
  expires_at: number | null;
  filename: string;
  purpose: FilePurpose;
}

/** OpenAI's expiration policy of a file (`expires_after`) or a batch's output (`output_expires_after`). */
export interface ExpiresAfter {
  anchor: 'created_at';
  /** From 3600 (an hour) to 2,592,000 (30 days). */
  seconds: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | 'developer';
  content: string | null | Array<{ type: string; text?: string }>;
  name?: string;
}

/** OpenAI's `reasoning_effort` values: how much a thinking model thinks ("none" turns it off). */
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

/** The body of a /v1/chat/completions request, as far as a local engine can honour it. */
export interface ChatCompletionBody {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  max_tokens?: number;
  max_completion_tokens?: number;
  response_format?:
    | { type: 'text' }
    | { type: 'json_object' }
    | { type: 'json_schema'; json_schema: { name?: string; schema: Record<string, unknown>; strict?: boolean } };
  n?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  reasoning_effort?: 'none' | 'minimal' | 'low' | 'medium' | 'high';
  frequency_penalty?: number;
  presence_penalty?: number;
  /** extension (vLLM's names): sampling options beyond OpenAI's. */
  top_k?: number;
  min_p?: number;
  repetition_penalty?: number;
  logit_bias?: Record<string, number>;
  /** Every field and what each engine does with it: server/engines/request-fields.ts. */
  [other: string]: unknown;
}

export interface BatchInputLine {
  custom_id: string;
  method: 'POST';
  url: string;
  body: ChatCompletionBody;
}

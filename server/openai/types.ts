// The OpenAI Batch API objects the daemon writes and answers with but that its clients do not
// receive over JSON-RPC: a result line and the chat completion in it (see OpenAI's Batch
// reference). The objects clients receive (Batch, File, a request line) are in protocol/openai.ts.
// Fields that OpenAI does not define are marked "extension": OpenAI clients ignore them.

/** One generated token with its log probability and the most likely alternatives (OpenAI's shape). */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] | null }>;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string; refusal: null };
    /** Null unless the request asked for logprobs and the engine gave them. */
    logprobs: { content: TokenLogprob[] } | null;
    finish_reason: 'stop' | 'length';
  }>;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details?: { cached_tokens: number };
    completion_tokens_details?: { reasoning_tokens: number };
  };
  system_fingerprint: string | null;
}

export interface BatchOutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: ChatCompletion | { error: ApiErrorBody } } | null;
  error: { code: string; message: string } | null;
  /** extension: how the request ran (OpenAI clients ignore unknown fields). */
  ollama_batch?: RequestRecord;
}

/** What the daemon records about one answered request, on its output line. */
export interface RequestRecord {
  /** The successful try, from sending to the whole answer. */
  latency_ms: number;
  /** Tries it took, 1 when the first one answered. */
  attempts: number;
  /** Present when the conversation was trimmed to fit the context (counts in the model's tokens, estimated). */
  trim?: { strategy: string; dropped: number; cut: boolean; tokens_before: number; tokens_after: number };
  /**
   * Present when the first answer broke its schema (`reason`) and the batch retries invalid
   * answers: this answer is the retry's, a new sample at this temperature (and seed).
   */
  retried?: { reason: string; temperature: number; seed?: number };
  /** The endpoint of the pool that answered, where the batch ran on more than one. */
  endpoint?: string;
}

export interface ApiErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

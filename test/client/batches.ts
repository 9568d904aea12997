// Batch objects for the client's unit tests, as the daemon sends them.
import type { Batch } from '../../server/protocol/openai.js';

export function makeBatch(overrides: Partial<Batch> & { id: string }): Batch {
  return {
    object: 'batch',
    endpoint: '/v1/chat/completions',
    model: 'gemma3:12b',
    errors: null,
    input_file_id: 'file-in',
    completion_window: '7d',
    status: 'in_progress',
    output_file_id: null,
    error_file_id: null,
    created_at: 1_700_000_000,
    in_progress_at: 1_700_000_010,
    expires_at: 1_700_604_800,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 170_000, completed: 12_300, failed: 45 },
    usage: {
      input_tokens: 1000,
      input_tokens_details: { cached_tokens: 400 },
      output_tokens: 200,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 1200,
    },
    metadata: null,
    paused_reason: null,
    ...overrides,
  };
}

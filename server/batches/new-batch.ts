// A new batch from what a client asked for: its endpoint, window, metadata (within OpenAI's
// limits) and run options checked, the run options an OpenAI client sets through metadata read,
// and the Batch object it starts as, validating.
import { BATCH_SETTING_KEYS, SettingError, checkSetting, fromText, metadataKey } from '../config/settings.js';
import { uniqueId } from '../ids/unique-id.js';
import type { BatchRunOptions, StoredBatch, StoredFile } from '../store/store.js';
import type { ExpiresAfter } from '../protocol/openai.js';
import { ServiceError } from './errors.js';
import { expirySeconds } from './file-registry.js';
import { SUPPORTED_ENDPOINTS } from './validate.js';
import { DEFAULT_COMPLETION_WINDOW, windowSeconds } from './window.js';

export interface CreateBatchParams {
  input_file_id: string;
  endpoint?: string;
  completion_window?: string;
  metadata?: Record<string, string> | null;
  output_expires_after?: ExpiresAfter;
  options?: BatchRunOptions;
}

const METADATA_LIMITS = { pairs: 16, key: 64, value: 512 };

/** The batch `params` ask for, created at `created` (seconds); throws a ServiceError naming what is wrong. */
export function newBatch(params: CreateBatchParams, fileOf: (id: string) => StoredFile, created: number): StoredBatch {
  const endpoint = params.endpoint ?? SUPPORTED_ENDPOINTS[0]!;
  if (!SUPPORTED_ENDPOINTS.includes(endpoint)) {
    throw new ServiceError(
      'invalid_request',
      `endpoint must be one of ${SUPPORTED_ENDPOINTS.join(', ')}; got ${JSON.stringify(endpoint)}`,
      'endpoint',
    );
  }
  const window = params.completion_window ?? DEFAULT_COMPLETION_WINDOW;
  const windowLength = windowSeconds(window);
  checkMetadata(params.metadata ?? null);
  const outputExpiresAfter =
    params.output_expires_after === undefined
      ? undefined
      : expirySeconds(params.output_expires_after, 'output_expires_after');
  const runOptions = { ...runOptionsOf(params.metadata), ...params.options };
  checkRunOptions(runOptions);
  const file = fileOf(params.input_file_id);
  if (file.purpose !== 'batch') {
    throw new ServiceError(
      'invalid_request',
      `file ${file.id} has purpose ${file.purpose}; a batch needs purpose "batch"`,
      'input_file_id',
    );
  }
  return {
    batch: {
      id: uniqueId('batch_'),
      object: 'batch',
      endpoint,
      model: null,
      errors: null,
      input_file_id: file.id,
      completion_window: window,
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: created,
      in_progress_at: null,
      expires_at: created + windowLength,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      usage: {
        input_tokens: 0,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 0,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 0,
      },
      metadata: params.metadata ?? null,
      paused_reason: null,
    },
    options: runOptions,
    ...(outputExpiresAfter !== undefined && { outputExpiresAfter }),
  };
}

function checkMetadata(metadata: Record<string, string> | null): void {
  if (metadata === null) return;
  if (typeof metadata !== 'object' || Array.isArray(metadata))
    throw new ServiceError('invalid_request', 'metadata must be an object of strings', 'metadata');
  const entries = Object.entries(metadata);
  if (entries.length > METADATA_LIMITS.pairs)
    throw new ServiceError(
      'invalid_request',
      `metadata has ${entries.length} pairs; at most ${METADATA_LIMITS.pairs}`,
      'metadata',
    );
  for (const [key, value] of entries) {
    if (key.length > METADATA_LIMITS.key)
      throw new ServiceError(
        'invalid_request',
        `metadata key "${key.slice(0, 20)}…" is longer than ${METADATA_LIMITS.key} characters`,
        'metadata',
      );
    if (typeof value !== 'string' || value.length > METADATA_LIMITS.value) {
      throw new ServiceError(
        'invalid_request',
        `metadata value of "${key}" must be a string of at most ${METADATA_LIMITS.value} characters`,
        'metadata',
      );
    }
  }
}

/**
 * Run options a batch carries in its metadata, what an OpenAI client can set: every batch-scope
 * setting of the table under its snake_case name (num_ctx, trim_strategy, mode, concurrency, …).
 */
function runOptionsOf(metadata: Record<string, string> | null | undefined): BatchRunOptions {
  const options: Record<string, unknown> = {};
  for (const key of BATCH_SETTING_KEYS) {
    const name = `metadata.${metadataKey(key)}`;
    const value = metadata?.[metadataKey(key)];
    if (value !== undefined) options[key] = checked(() => checkSetting(key, fromText(key, value), name), name);
  }
  return options;
}

/** Options a client passed as such (the extension, the CLI), checked as the table says. */
function checkRunOptions(options: BatchRunOptions): void {
  for (const [key, value] of Object.entries(options)) {
    const name = `options.${key}`;
    if (!(BATCH_SETTING_KEYS as string[]).includes(key))
      throw new ServiceError('invalid_request', `${name} is not a batch option`, name);
    checked(() => checkSetting(key as keyof BatchRunOptions, value, name), name);
  }
}

function checked<T>(check: () => T, param: string): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof SettingError) throw new ServiceError('invalid_request', error.message, param);
    throw error;
  }
}

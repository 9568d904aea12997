// Validation of batch input files, streamed, with OpenAI's error codes and line numbers.
// The same rules serve the daemon (a whole file) and the editor (line by line as you type).
import { basename } from 'node:path';
import { isObject } from '../common/is-object.js';
import type { BatchError, ChatCompletionBody } from '../protocol/openai.js';
import { DEFAULT_MAX_LINE_BYTES, readLines } from '../jsonl/lines.js';
import { CHAT_COMPLETIONS_ENDPOINT } from '../openai/chat.js';
import { requestFieldProblem } from '../engines/request-fields.js';
import type { EngineName } from '../engines/engine.js';

export const SUPPORTED_ENDPOINTS = [CHAT_COMPLETIONS_ENDPOINT];
export const DEFAULT_MAX_LINES = 2_000_000;
export const DEFAULT_MAX_ERRORS = 100;

export interface ValidationLimits {
  maxLineBytes: number;
  maxLines: number;
  maxErrors: number;
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxLineBytes: DEFAULT_MAX_LINE_BYTES,
  maxLines: DEFAULT_MAX_LINES,
  maxErrors: DEFAULT_MAX_ERRORS,
};

/** What the rules remember from line to line. */
export class ValidationState {
  /** Each custom_id seen, with the line it was first on. */
  readonly seenIds = new Map<string, number>();
  model: string | null = null;
  modelLine = 0;
  requests = 0;
  constructor(
    readonly fileName: string,
    readonly endpoint = CHAT_COMPLETIONS_ENDPOINT,
    /** Called with every valid request, e.g. to measure it against the context. */
    readonly onRequest?: (body: ChatCompletionBody, line: number) => void,
    /** The engines that run the batch (a pool's kinds), whose refused fields are refused here; none: only what every engine refuses. */
    readonly engines: readonly EngineName[] = [],
  ) {}
}

export interface ValidationReport {
  /** Request lines (blank lines are not counted). */
  requests: number;
  model: string | null;
  /** The first maxErrors errors. */
  errors: BatchError[];
  /** All errors, including those past the cap. */
  errorCount: number;
}

// ignoreBOM: the line reader has taken a line's BOM off; one more is the line's own, as the runner sees it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function error(state: ValidationState, line: number, code: string, param: string | null, text: string): BatchError {
  return { code, param, line, message: `${state.fileName} line ${line}: ${text}` };
}

/**
 * Deeper schemas are no answer format anyone means, and the engines' clients walk a schema
 * recursively: 100,000 levels overflow their stack on every try.
 */
const MAX_SCHEMA_DEPTH = 64;

/** Whether a parsed JSON value nests objects or arrays deeper than `limit`, walked without recursion. */
function deeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [current, depth] = next;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

const MESSAGE_ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

/** The body rules of /v1/chat/completions that a local engine depends on. */
function bodyError(state: ValidationState, line: number, body: Record<string, unknown>): BatchError | null {
  if (typeof body.model !== 'string' || body.model.trim() === '') {
    return error(state, line, 'invalid_request', 'body.model', 'body.model is missing or not a string');
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return error(state, line, 'invalid_request', 'body.messages', 'body.messages must be a non-empty array');
  }
  for (const [index, message] of body.messages.entries()) {
    const param = `body.messages[${index}]`;
    if (!isObject(message) || typeof message.role !== 'string' || !MESSAGE_ROLES.has(message.role)) {
      return error(
        state,
        line,
        'invalid_request',
        `${param}.role`,
        `${param}.role must be one of ${[...MESSAGE_ROLES].join(', ')}`,
      );
    }
    const content = message.content;
    if (!(
      typeof content === 'string' ||
      Array.isArray(content) ||
      (content === null && message.role === 'assistant')
    )) {
      return error(
        state,
        line,
        'invalid_request',
        `${param}.content`,
        `${param}.content must be a string or an array of parts`,
      );
    }
  }
  for (const field of ['max_tokens', 'max_completion_tokens'] as const) {
    const value = body[field];
    if (value !== undefined && value !== null && !(Number.isInteger(value) && (value as number) > 0)) {
      return error(state, line, 'invalid_request', `body.${field}`, `body.${field} must be a positive integer`);
    }
  }
  for (const field of ['temperature', 'top_p', 'seed'] as const) {
    const value = body[field];
    // 1e400 parses as Infinity: a number to JSON.parse, none to an engine.
    if (value !== undefined && value !== null && !(typeof value === 'number' && Number.isFinite(value))) {
      return error(state, line, 'invalid_request', `body.${field}`, `body.${field} must be a finite number`);
    }
  }
  const format = body.response_format;
  if (format !== undefined && format !== null) {
    const type = isObject(format) ? format.type : undefined;
    if (type !== 'text' && type !== 'json_object' && type !== 'json_schema') {
      return error(
        state,
        line,
        'invalid_request',
        'body.response_format.type',
        'body.response_format.type must be text, json_object or json_schema',
      );
    }
    if (
      type === 'json_schema' &&
      !(isObject(format) && isObject(format.json_schema) && isObject(format.json_schema.schema))
    ) {
      return error(
        state,
        line,
        'invalid_request',
        'body.response_format.json_schema.schema',
        'body.response_format.json_schema.schema must be a JSON schema object',
      );
    }
    if (
      type === 'json_schema' &&
      deeperThan((format as { json_schema: { schema: unknown } }).json_schema.schema, MAX_SCHEMA_DEPTH)
    ) {
      return error(
        state,
        line,
        'invalid_request',
        'body.response_format.json_schema.schema',
        `body.response_format.json_schema.schema is nested deeper than ${MAX_SCHEMA_DEPTH} levels`,
      );
    }
  }
  const field = requestFieldProblem(body, state.engines);
  if (field) {
    const param = `body.${field.field}`;
    return error(
      state,
      line,
      field.unsupported ? 'unsupported_parameter' : 'invalid_request',
      param,
      `${param} ${field.message}`,
    );
  }
  return null;
}

/**
 * Checks one line of text (without its line end). Returns null for a valid request line or a
 * blank line (blank lines are not requests).
 */
export function validateLine(state: ValidationState, line: number, text: string): BatchError | null {
  if (text.trim() === '') return null;
  state.requests++;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    return error(state, line, 'invalid_json_line', null, `not valid JSON (${(cause as Error).message})`);
  }
  if (!isObject(parsed)) return error(state, line, 'invalid_json_line', null, 'is not a JSON object');
  const id = parsed.custom_id;
  if (typeof id !== 'string' || id === '') {
    return error(state, line, 'invalid_request', 'custom_id', 'custom_id is missing or not a non-empty string');
  }
  const firstLine = state.seenIds.get(id);
  if (firstLine !== undefined)
    return error(
      state,
      line,
      'duplicate_custom_id',
      'custom_id',
      `custom_id "${id}" is used more than once: first on line ${firstLine}`,
    );
  state.seenIds.set(id, line);
  if (parsed.method !== 'POST') {
    return error(
      state,
      line,
      'invalid_request',
      'method',
      `method must be "POST", got ${JSON.stringify(parsed.method ?? null)}`,
    );
  }
  if (parsed.url !== state.endpoint) {
    return error(
      state,
      line,
      'url_mismatch',
      'url',
      `url ${JSON.stringify(parsed.url ?? null)} does not match the batch's endpoint ${state.endpoint}`,
    );
  }
  if (!isObject(parsed.body)) return error(state, line, 'invalid_request', 'body', 'body is missing or not an object');
  const problem = bodyError(state, line, parsed.body);
  if (problem) return problem;
  const model = parsed.body.model as string;
  if (state.model === null) {
    state.model = model;
    state.modelLine = line;
  } else if (model !== state.model) {
    return error(
      state,
      line,
      'model_mismatch',
      'body.model',
      `body.model "${model}" differs from "${state.model}" on line ${state.modelLine}; one model per batch`,
    );
  }
  state.onRequest?.(parsed.body as unknown as ChatCompletionBody, line);
  return null;
}

/** Validates a whole batch input file as a stream. `displayName` is used in messages. */
export async function validateBatchFile(
  path: string,
  options: {
    displayName?: string;
    endpoint?: string;
    limits?: Partial<ValidationLimits>;
    onRequest?: ValidationState['onRequest'];
    engines?: readonly EngineName[];
    /** Why the engine does not serve the batch's model (the daemon asks it), or null when it does. */
    modelProblem?: (model: string) => Promise<string | null>;
    signal?: AbortSignal;
  } = {},
): Promise<ValidationReport> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const state = new ValidationState(
    options.displayName ?? basename(path),
    options.endpoint,
    options.onRequest,
    options.engines,
  );
  const errors: BatchError[] = [];
  let errorCount = 0;
  const report = (problem: BatchError | null): void => {
    if (!problem) return;
    errorCount++;
    if (errors.length < limits.maxErrors) errors.push(problem);
  };
  for await (const line of readLines(path, {
    maxLineBytes: limits.maxLineBytes,
    ...(options.signal && { signal: options.signal }),
  })) {
    if (line.bytes === null) {
      state.requests++;
      report(
        error(
          state,
          line.number,
          'line_too_large',
          null,
          `is ${line.size} bytes; the limit is ${limits.maxLineBytes} bytes per line`,
        ),
      );
      continue;
    }
    let text: string;
    try {
      text = utf8.decode(line.bytes);
    } catch {
      state.requests++;
      report(error(state, line.number, 'invalid_json_line', null, 'is not valid UTF-8'));
      continue;
    }
    report(validateLine(state, line.number, text));
    if (state.requests > limits.maxLines) {
      report(
        error(state, line.number, 'too_many_tasks', null, `more than ${limits.maxLines} requests; split the file`),
      );
      break;
    }
  }
  if (state.requests === 0) report(error(state, 1, 'empty_file', null, 'the file has no requests'));
  // One error on the line that first names the model, not one per line of a 170,000-line file
  // (lines with another model are model_mismatch errors already).
  const problem = state.model !== null && (await options.modelProblem?.(state.model));
  if (problem) report(error(state, state.modelLine, 'model_not_found', 'body.model', problem));
  if (errorCount > errors.length) {
    errors.push({
      code: 'too_many_errors',
      param: null,
      line: null,
      message: `${state.fileName}: ${errorCount - errors.length} more errors not listed`,
    });
  }
  return { requests: state.requests, model: state.model, errors, errorCount };
}

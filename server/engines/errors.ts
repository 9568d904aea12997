// Sorting engine failures into transient, permanent and unreachable (see EngineError).
import { EngineError } from './engine.js';

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOENT']);
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The errno-style code of a network failure, looking through fetch's `cause` chain. */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** An HTTP status and message from the engine, as an EngineError. */
export function fromHttpStatus(status: number, message: string, code?: string | null): EngineError {
  if (isOutOfMemoryMessage(message)) return new EngineError('transient', 'out_of_memory', message, status);
  if (status === 404 && (code === 'model_not_found' || /model/i.test(message))) {
    return new EngineError('permanent', 'model_not_found', message, status);
  }
  if (status === 408 || status === 429 || status >= 500) {
    return new EngineError('transient', status === 503 ? 'engine_overloaded' : 'server_error', message, status);
  }
  return new EngineError('permanent', 'invalid_request', message, status);
}

/** Any failure thrown while calling an engine over the network, as an EngineError. */
export function fromNetworkError(error: unknown, signal: AbortSignal): EngineError {
  if (error instanceof EngineError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (signal.aborted) {
    const reason = signal.reason as unknown;
    const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
    return new EngineError(
      'transient',
      timedOut ? 'timeout' : 'aborted',
      timedOut ? 'the engine did not answer in time' : message,
    );
  }
  // The client could not parse a body it took for JSON.
  if (error instanceof SyntaxError) return invalidEngineAnswer(`not JSON (${message})`);
  const code = networkCode(error);
  if (code && UNREACHABLE_CODES.has(code))
    return new EngineError('unreachable', 'engine_unreachable', `${message} (${code})`);
  if (code && TRANSIENT_CODES.has(code))
    return new EngineError('transient', 'connection_error', `${message} (${code})`);
  if (error instanceof Error && error.name === 'TimeoutError') return new EngineError('transient', 'timeout', message);
  return new EngineError('transient', 'connection_error', message);
}

/**
 * An answer that is not what the engine's API promises (no message, content that is no string,
 * a body that is no JSON). Retryable: a proxy or an engine under strain may answer right next time.
 */
export function invalidEngineAnswer(what: string): EngineError {
  return new EngineError('transient', 'server_error', `invalid engine answer: ${what}`);
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An answer's text at `path` when it is a string; else an invalid engine answer saying what is there. */
export function answerText(value: unknown, path: string): string {
  if (typeof value === 'string') return value;
  const found =
    value === undefined
      ? 'missing'
      : value === null
        ? 'null'
        : Array.isArray(value)
          ? 'an array'
          : typeof value === 'object'
            ? 'an object'
            : `a ${typeof value}`;
  throw invalidEngineAnswer(`${path} is ${found}, not a string`);
}

/** A Content-Type of an HTML page. */
export function isHtml(contentType: string | null | undefined): boolean {
  return /^\s*(text\/html|application\/xhtml\+xml)\b/i.test(contentType ?? '');
}

const HTML_NAME_MAX = 120;

/**
 * An HTML page where JSON was due: a proxy's error page, a captive portal. Named by its title
 * (else its first words); retryable like the same status with JSON, and a 2xx page too.
 */
export function htmlPageError(status: number, page: string): EngineError {
  const title =
    /<title[^>]*>([\s\S]*?)<\/title>/i.exec(page)?.[1] ??
    page.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ');
  const name = title.replace(/\s+/g, ' ').trim();
  const shown = name.length > HTML_NAME_MAX ? `${name.slice(0, HTML_NAME_MAX)}…` : name;
  const error = invalidEngineAnswer(`an HTML page (status ${status}), not JSON: ${JSON.stringify(shown)}`);
  return status < 300 ? error : fromHttpStatus(status, error.message);
}

/** Answers that mean the model does not fit in (GPU) memory: worth retrying later, smaller or alone. */
const OUT_OF_MEMORY =
  /out of memory|requires more system memory|unable to allocate|cudaMalloc failed|insufficient memory|failed to allocate/i;

export function isOutOfMemoryMessage(message: string): boolean {
  return OUT_OF_MEMORY.test(message);
}

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
    return new EngineError('transient', timedOut ? 'timeout' : 'aborted', timedOut ? 'the engine did not answer in time' : message);
  }
  const code = networkCode(error);
  if (code && UNREACHABLE_CODES.has(code)) return new EngineError('unreachable', 'engine_unreachable', `${message} (${code})`);
  if (code && TRANSIENT_CODES.has(code)) return new EngineError('transient', 'connection_error', `${message} (${code})`);
  if (error instanceof Error && error.name === 'TimeoutError') return new EngineError('transient', 'timeout', message);
  return new EngineError('transient', 'connection_error', message);
}

/** Answers that mean the model does not fit in (GPU) memory: worth retrying later, smaller or alone. */
const OUT_OF_MEMORY = /out of memory|requires more system memory|unable to allocate|cudaMalloc failed|insufficient memory|failed to allocate/i;

export function isOutOfMemoryMessage(message: string): boolean {
  return OUT_OF_MEMORY.test(message);
}

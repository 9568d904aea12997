// Errors the batch service gives its callers; each transport maps them to its own shape
// (a JSON-RPC error, an OpenAI HTTP error), so the meaning is decided once, here.
export type ServiceErrorCode =
  'not_found' | 'invalid_request' | 'conflict' | 'unsupported_file' | 'too_large' | 'disk_full' | 'internal_error';

const HTTP_STATUS: Record<ServiceErrorCode, number> = {
  not_found: 404,
  invalid_request: 400,
  conflict: 409,
  unsupported_file: 415,
  too_large: 413,
  disk_full: 507,
  internal_error: 500,
};

export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'ServiceError';
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

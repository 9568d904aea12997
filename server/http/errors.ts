// OpenAI's error shape for every HTTP failure: {"error": {message, type, param, code}}.
import type { ServerResponse } from 'node:http';
import { ServiceError } from '../batches/errors.js';
import { isDiskFull } from '../store/disk-space.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

const TYPE_BY_STATUS: Record<number, string> = { 401: 'invalid_request_error', 500: 'server_error' };

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** Any failure as OpenAI's error object with its status; never a stack trace. */
export function sendError(response: ServerResponse, error: unknown): void {
  let failure: HttpError;
  if (error instanceof HttpError) failure = error;
  else if (error instanceof ServiceError) failure = new HttpError(error.status, error.message, error.code, error.param);
  else if (isDiskFull(error))
    failure = new HttpError(
      507,
      `The daemon's disk is full (${(error as Error).message}); free some space and try again.`,
      'disk_full',
    );
  else failure = new HttpError(500, 'The daemon failed to handle the request; see its log.', 'internal_error');
  if (response.headersSent) return void response.destroy();
  sendJson(response, failure.status, {
    error: {
      message: failure.message,
      type: TYPE_BY_STATUS[failure.status] ?? (failure.status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: failure.param,
      code: failure.code,
    },
  });
}

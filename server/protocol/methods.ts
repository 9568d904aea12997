// Every custom JSON-RPC method between the daemon and its clients (the VS Code extension, the
// CLI), declared once, with its params and answers as plain data. Both sides import this module;
// no method name is written anywhere else.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { AnalysisReport, AnalyzeParams, ConvertParams, ConvertReport, ValidationReport } from './jobs.js';
import type { BatchMetricsReport, BatchMetricsSnapshot, GpuSnapshot, TrimStrategy } from './metrics.js';
import type { Batch, ExpiresAfter, FileObject, FilePurpose } from './openai.js';
import type { EndpointStatus } from './endpoints.js';

export interface DaemonInfo {
  pid: number;
  version: string;
  dataDir: string;
  socket: string;
  /** The default endpoint (the first): its kind, where it listens, whether it answers, its models. */
  engine: { name: string; url: string | null; up: boolean; models: string[] };
  /** Every endpoint of the pool, the default first (one where no `endpoints` are configured). */
  endpoints?: EndpointStatus[];
  runningBatchId: string | null;
  /** Base URL of the OpenAI-compatible HTTP API. */
  http: string;
  /** GPUs (nvidia-smi) and the engine's loaded models (Ollama's /api/ps); null before the first reading. */
  gpu: GpuSnapshot | null;
  /** The settings it runs with (secrets shown as "(set)") and where each came from. */
  config: Record<string, { value: unknown; source: 'default' | 'config.json' | 'env' | 'flag' }>;
}

export type BatchMode = 'independent' | 'conversation';
export const BATCH_MODES: readonly BatchMode[] = ['independent', 'conversation'];

export { ENGINE_NAMES, type EngineName } from './endpoints.js';

/** How a batch runs where the daemon's own choice is not wanted. */
export interface BatchRunOptions {
  concurrency?: number;
  numCtx?: number;
  trimStrategy?: TrimStrategy;
  trimAllowCut?: boolean;
  mode?: BatchMode;
  trimEvery?: number;
  aggressiveFraction?: number;
  retryInvalid?: boolean;
  pilotAnswers?: number;
  pilotMaxInvalid?: number;
}

export interface CreateBatchParams {
  input_file_id: string;
  endpoint?: string;
  completion_window?: string;
  metadata?: Record<string, string> | null;
  /** OpenAI's: when the batch's output and error files expire, counted from when they are complete. */
  output_expires_after?: ExpiresAfter;
  options?: BatchRunOptions;
}

export interface ListParams {
  limit?: number;
  after?: string;
}

export interface BatchList {
  object: 'list';
  data: Batch[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** The answer to batch/delete, in the shape of OpenAI's file deletion. */
export interface BatchDeleted {
  id: string;
  object: 'batch';
  deleted: true;
}

export interface RegisterFileParams {
  /** Absolute path of a local file; the daemon copies it into its data dir. */
  path: string;
  purpose?: FilePurpose;
}

export interface FileInfo extends FileObject {
  /** Where the daemon keeps the bytes (readable by local clients). */
  path: string;
}

export namespace BatchCreateRequest {
  /** client → daemon: create a batch from a registered input file; it validates, then queues. */
  export const type = new RequestType<CreateBatchParams, Batch, RpcErrorData>('batch/create');
}
export namespace BatchListRequest {
  /** client → daemon: batches, newest first, with cursor paging. */
  export const type = new RequestType<ListParams, BatchList, RpcErrorData>('batch/list');
}
export namespace BatchGetRequest {
  /** client → daemon: one batch. */
  export const type = new RequestType<{ id: string }, Batch, RpcErrorData>('batch/get');
}
export namespace BatchCancelRequest {
  /** client → daemon: cancel a batch; finished lines are kept. */
  export const type = new RequestType<{ id: string }, Batch, RpcErrorData>('batch/cancel');
}
export namespace BatchRetryRequest {
  /** client → daemon: a new batch of a finished batch's failed lines. */
  export const type = new RequestType<{ id: string }, Batch, RpcErrorData>('batch/retry');
}
export namespace BatchResumeRequest {
  /** client → daemon: resume a batch the pilot check paused; the check is overridden for it. */
  export const type = new RequestType<{ id: string }, Batch, RpcErrorData>('batch/resume');
}
export namespace BatchDeleteRequest {
  /** client → daemon: forget a batch that has ended, with its metrics and the files no other batch uses. */
  export const type = new RequestType<{ id: string }, BatchDeleted, RpcErrorData>('batch/delete');
}
export namespace FileRegisterRequest {
  /** client → daemon: copy a local file into the daemon's store and get its File object. */
  export const type = new RequestType<RegisterFileParams, FileObject, RpcErrorData>('file/register');
}
export namespace FileGetRequest {
  /** client → daemon: a file's object and where its bytes are. */
  export const type = new RequestType<{ id: string }, FileInfo, RpcErrorData>('file/get');
}
export namespace FileValidateRequest {
  /** client → daemon: validate a local batch file without creating a batch. */
  export const type = new RequestType<{ path: string }, ValidationReport, RpcErrorData>('file/validate');
}
export namespace DaemonStatusRequest {
  /** client → daemon: who is serving, with which engine. */
  export const type = new RequestType0<DaemonInfo, RpcErrorData>('daemon/status');
}
export namespace DaemonShutdownRequest {
  /** client → daemon: stop the daemon; running batches resume at its next start. */
  export const type = new RequestType0<void, RpcErrorData>('daemon/shutdown');
}
export namespace BatchMetricsRequest {
  /** client → daemon: a batch's metrics (live while it runs), with its time series when `series`. */
  export const type = new RequestType<{ id: string; series?: boolean }, BatchMetricsReport, RpcErrorData>(
    'batch/metrics',
  );
}
export namespace BatchMetricsNotification {
  /** daemon → every client: the running batch's metrics, once a second. */
  export const type = new NotificationType<{ id: string; snapshot: BatchMetricsSnapshot }>('batch/metrics');
}
export namespace CsvConvertRequest {
  /** client → daemon: a CSV into a batch input JSONL, with the report and the pre-run estimate. */
  export const type = new RequestType<ConvertParams, ConvertReport, RpcErrorData>('csv/convert');
}
export namespace ResultsAnalyzeRequest {
  /** client → daemon: analyse a batch's results (or given files), joined to its CSV when `source`. */
  export const type = new RequestType<AnalyzeParams, AnalysisReport, RpcErrorData>('results/analyze');
}
export namespace DaemonStoppingNotification {
  /**
   * daemon → every client: it is stopping on purpose (a shutdown request or a signal), so a
   * client that sees its connection close next knows it was not a crash and need not restart it.
   */
  export const type = new NotificationType<{ reason: string }>('daemon/stopping');
}
export namespace BatchChangedNotification {
  /** daemon → every client: a batch changed (status at once, progress at most 4 times a second). */
  export const type = new NotificationType<Batch>('batch/changed');
}

/** What went wrong, as the daemon's batch service says it. */
export type ServiceErrorCode =
  'not_found' | 'invalid_request' | 'conflict' | 'unsupported_file' | 'too_large' | 'disk_full' | 'internal_error';

/** The `data` of every error answer: the service's error code and the parameter at fault. */
export interface RpcErrorData {
  code: ServiceErrorCode;
  param: string | null;
}

/** JSON-RPC error codes the daemon answers with (the service's error code is in `data`). */
export const RpcErrorCodes = {
  notFound: -32004,
  invalidRequest: -32602,
  conflict: -32009,
  internal: -32603,
} as const;

// The messages between the panels and their webviews, the only thing both sides share. The
// webviews get plain numbers and strings: they never see the daemon's objects or import their types.
// Every webview says `ready` once its script listens; the panel answers with a full snapshot and
// then sends deltas, and queues nothing before `ready` (a hidden webview reloads and asks again).
import { isObject } from '../../server/common/is-object.js';

// ---- metrics panel

/** What the metrics panel shows of a batch. Times are Unix seconds. */
export interface BatchView {
  id: string;
  status: string;
  model: string | null;
  pausedReason: string | null;
  total: number;
  completed: number;
  failed: number;
  /** Completed, failed, expired or cancelled: nothing will change any more. */
  over: boolean;
}

/** The error classes the daemon counts (server/metrics/batch-metrics.ts). */
export const ERROR_CLASSES = ['oom', 'timeout', 'engine', 'validation', 'context'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** One moment of a batch's run: a time series sample, or a live snapshot. Null: not known then. */
export interface SeriesPoint {
  /** Milliseconds since the epoch. */
  t: number;
  requestsPerSecond: number | null;
  latencyP50: number | null;
  latencyP95: number | null;
  latencyP99: number | null;
  promptTokens: number | null;
  cachedTokens: number | null;
  completionTokens: number | null;
  /** Peak prompt ÷ num_ctx, 0..1. */
  contextUtilisation: number | null;
  trims: number | null;
  vramUsedMiB: number | null;
  errors: Record<ErrorClass, number>;
}

/** The counters on top of the panel, from the latest snapshot. */
export interface MetricsCounters {
  done: number | null;
  total: number | null;
  /** The recent pace while it runs. */
  requestsPerSecond: number | null;
  /** The whole run's: its average pace and its length (the daemon's down time excluded). */
  run: { requestsPerSecond: number | null; seconds: number };
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  /** cached ÷ prompt. */
  cachedShare: number | null;
  errors: number;
  retries: number;
  etaSeconds: number | null;
  latencyP50: number | null;
  latencyP95: number | null;
  numCtx: number | null;
  trims: number;
  vramUsedMiB: number | null;
  vramTotalMiB: number | null;
  vramSpilled: boolean;
}

/** An endpoint of the pool the batch runs on, from the latest snapshot. */
export interface EndpointView {
  name: string;
  engine: string;
  up: boolean;
  /** Why it is down, and since when (ms since the epoch); null while up. */
  down: { reason: string; since: number } | null;
  inFlight: number;
  concurrency: number;
  requestsPerSecond: number | null;
  answered: number;
  errors: number;
  hedgesWon: number;
}

/** A limit the batch changed by itself: when (ms since the epoch), and what, in words. */
export interface AdjustmentView {
  at: number;
  text: string;
}

/** What the latest snapshot tells besides the counters: the pool (empty once the batch is over) and the last adjustments. */
export interface PoolView {
  endpoints: EndpointView[];
  adjustments: AdjustmentView[];
}

export type ToMetricsWebview =
  /** After `ready` and after a reconnect: everything, the time series included; `problem` when it could not be had. */
  | {
      type: 'snapshot';
      batchId: string;
      batch: BatchView | null;
      points: SeriesPoint[];
      counters: MetricsCounters | null;
      pool: PoolView | null;
      problem: string | null;
    }
  | { type: 'batch'; batch: BatchView }
  /** Once a second while the batch runs. */
  | { type: 'metrics'; point: SeriesPoint; counters: MetricsCounters; pool: PoolView };

export type FromMetricsWebview = { type: 'ready' };

// ---- results panel

export interface HistogramView {
  field: string;
  /** Of the valid numbers; empty, and `stats` null, when none is valid. */
  bins: Array<{ from: number; to: number; count: number }>;
  stats: { mean: number; p50: number; p95: number } | null;
  /** The values the bins leave out, e.g. "1 not a number, 2 far above the bins"; '' when none. */
  leftOut: string;
}

export interface EnumView {
  field: string;
  counts: Array<{ value: string; count: number }>;
}

export interface TopRowView {
  customId: string;
  /** The value, with its expected value and sd where there is one: "85 (84.3 ± 2.1)". */
  value: string;
  reason: string | null;
}

/** The AnalysisReport as the results panel shows it. */
export interface ReportView {
  title: string;
  lines: number;
  succeeded: number;
  failed: number;
  failuresByCode: Array<{ code: string; count: number }>;
  /** The first card: answers that follow the schema (parsed ones without a schema) of all results. */
  valid: { label: string; count: number; total: number };
  /** "partial: 120 of 1,000 lines done, batch in_progress"; '' for a batch that has ended. */
  partial: string;
  /** "cascade (top 10%): pass 1 … scores every row, pass 2 … shortlisted 24, explained 12"; '' for other batches. */
  cascade: string;
  invalid: number;
  invalidReasons: Array<{ reason: string; count: number }>;
  unparseable: number;
  repaired: number;
  tokens: { prompt: number; completion: number; cached: number };
  latency: { p50: number; p95: number; p99: number } | null;
  histograms: HistogramView[];
  enums: EnumView[];
  sortBy: string | null;
  top: TopRowView[];
  bottom: TopRowView[];
  /** What the expected scores are, or why there are none; '' when there is no score to weigh. */
  expectedNote: string;
  /** The rows whose score is least certain: the ones to review. */
  uncertain: TopRowView[];
  /** The joined CSV that the table pages through; null without a source CSV. */
  csvPath: string | null;
}

export interface TableSort {
  column: number;
  order: 'asc' | 'desc';
}

/** `text` matched against one column: `>= 7`, `< 3`, `= yes`, else a case-insensitive substring. */
export interface TableFilter {
  column: number;
  text: string;
}

/** The table's shape for one sort and filter; `version` tells row answers of an older view apart. */
export interface TableView {
  version: number;
  columns: string[];
  rowCount: number;
  /** Rows before the filter. */
  totalRows: number;
  sort: TableSort | null;
  filter: TableFilter | null;
  /** The column of the custom_ids, to show a row's request and answer; the first, frozen, when there is one. */
  idColumn: number | null;
}

/** A row's request and what came of it, found by custom_id. */
export interface RowDetail {
  customId: string;
  /** The request's messages; null when the input has no such line. */
  messages: Array<{ role: string; content: string }> | null;
  /** The answer, pretty-printed when it is JSON; null when there is none. */
  answer: string | null;
  error: string | null;
  /** The row of the scored CSV, column by column as the table shows them; null without one. */
  row: Array<{ column: string; value: string }> | null;
}

/** What the results webview keeps (setState) so that the panel comes back after a reload: the
 *  batch, and the CSV its answers were joined to (null: answers only). */
export interface ResultsState {
  batchId: string;
  source: string | null;
}

export type ToResultsWebview =
  | { type: 'report'; report: ReportView; table: TableView | null; state: ResultsState }
  | { type: 'table'; table: TableView }
  | { type: 'rows'; version: number; start: number; rows: string[][] }
  | { type: 'detail'; detail: RowDetail }
  | { type: 'busy'; message: string | null };

export type FromResultsWebview =
  | { type: 'ready' }
  | { type: 'rows'; version: number; start: number; count: number }
  | { type: 'view'; sort: TableSort | null; filter: TableFilter | null }
  | { type: 'detail'; customId: string }
  | { type: 'export' }
  /** Analyse the batch again: a running batch has more lines done. */
  | { type: 'refresh' };

const isInteger = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;

function isSort(value: unknown): value is TableSort | null {
  return (
    value === null || (isObject(value) && isInteger(value.column) && (value.order === 'asc' || value.order === 'desc'))
  );
}

function isFilter(value: unknown): value is TableFilter | null {
  return value === null || (isObject(value) && isInteger(value.column) && typeof value.text === 'string');
}

/** The results webview is a page that runs scripts: its messages are checked before they are obeyed. */
export function isFromResultsWebview(message: unknown): message is FromResultsWebview {
  if (!isObject(message)) return false;
  switch (message.type) {
    case 'ready':
    case 'export':
    case 'refresh':
      return true;
    case 'rows':
      return isInteger(message.version) && isInteger(message.start) && isInteger(message.count);
    case 'view':
      return isSort(message.sort) && isFilter(message.filter);
    case 'detail':
      return typeof message.customId === 'string';
    default:
      return false;
  }
}

// The daemon's objects as its clients receive them (the answers of the methods in methods.ts),
// and how the CLI words them where the extension shows the same: the extension takes these from
// here, never from the daemon's own modules (DESIGN.md).
export type { AnalysisReport, TopRow } from '../analysis/analyze.js';
export { leftOutText, type FieldSummary } from '../analysis/stats.js';
export type { ConvertReport } from '../csv/convert.js';
export type { ConvertParams } from '../jobs/jobs.js';
export type { BatchMetricsSnapshot } from '../metrics/batch-metrics.js';
export { TERMINAL_STATUSES, type Batch } from '../openai/types.js';

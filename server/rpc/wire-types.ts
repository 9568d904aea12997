// The daemon answers JSON-RPC requests with its own objects as they are (no copy on the way out),
// so each of its types that goes on the wire must be, field for field, the type protocol/
// declares for it. Checked here at compile time, both ways: a field renamed, added or retyped on
// either side fails the build instead of silently changing what clients receive.
import type { AnalysisReport } from '../analysis/analyze.js';
import type { ServiceErrorCode } from '../batches/errors.js';
import type { CreateBatchParams } from '../batches/new-batch.js';
import type { BatchList, ListParams } from '../batches/service.js';
import type { ValidationReport } from '../batches/validate.js';
import type { ConvertReport } from '../csv/convert.js';
import type { AnalyzeParams, ConvertParams } from '../jobs/jobs.js';
import type { VramSnapshot } from '../gpu/vram-monitor.js';
import type * as jobs from '../protocol/jobs.js';
import type * as metrics from '../protocol/metrics.js';
import type * as methods from '../protocol/methods.js';

/** An intersection as one object type, so that it compares with an interface of the same fields. */
type Flat<T> = { [K in keyof T]: T[K] };
/** true when A and B are the same type, not merely assignable one way. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Holds<Check extends true> = Check;

export type WireTypesMatch = [
  Holds<Same<CreateBatchParams, methods.CreateBatchParams>>,
  Holds<Same<ListParams, methods.ListParams>>,
  Holds<Same<BatchList, methods.BatchList>>,
  Holds<Same<ServiceErrorCode, methods.ServiceErrorCode>>,
  Holds<Same<VramSnapshot, metrics.GpuSnapshot>>,
  Holds<Same<ValidationReport, jobs.ValidationReport>>,
  Holds<Same<Flat<ConvertParams>, jobs.ConvertParams>>,
  Holds<Same<ConvertReport, jobs.ConvertReport>>,
  Holds<Same<Flat<AnalyzeParams>, jobs.AnalyzeParams>>,
  Holds<Same<AnalysisReport, jobs.AnalysisReport>>,
];

// Conversion and analysis on behalf of a client (the extension): the same modules the CLI runs,
// with what the daemon knows filled in (a model's learned pace and calibration, a batch's files).
// Above csv/ and analysis/, below the transports that offer them.
import { existsSync } from 'node:fs';
import type { BatchService } from '../batches/service.js';
import { ServiceError } from '../batches/errors.js';
import type { AnalysisReport, AnalyzeOptions } from '../analysis/analyze.js';
import { TERMINAL_STATUSES } from '../protocol/openai.js';
import type { ConvertOptions, ConvertReport } from '../csv/convert.js';

export type ConvertParams = Omit<ConvertOptions, 'throughput' | 'calibrationFactor'>;
/** Either the files, or a batch whose output and error files are analysed (its input gives the answer's schema). */
export type AnalyzeParams = Partial<Omit<AnalyzeOptions, 'running'>> & { batch_id?: string };

export async function convertFor(service: BatchService, params: ConvertParams): Promise<ConvertReport> {
  // Loaded on first use: the tokenizer costs half a second and 70 MB.
  const [{ convertCsv, ConvertError }, { learnedInputs }] = await Promise.all([
    import('../csv/convert.js'),
    import('../csv/estimate.js'),
  ]);
  try {
    return await convertCsv({ ...params, ...learnedInputs(service.modelStats(params.model)) });
  } catch (error) {
    throw error instanceof ConvertError ? new ServiceError('invalid_request', error.message, 'input') : error;
  }
}

export async function analyzeFor(service: BatchService, params: AnalyzeParams): Promise<AnalysisReport> {
  const { analyzeResults, AnalysisError } = await import('../analysis/analyze.js');
  const { batch_id: batchId, ...given } = params;
  const options: Partial<AnalyzeOptions> = given;
  if (batchId !== undefined) {
    const batch = service.getBatch(batchId);
    if (!batch.output_file_id) {
      // Before it runs, or after it ended with no line answered (OpenAI's null output_file_id).
      const why = TERMINAL_STATUSES.includes(batch.status) ? 'no answered line' : 'no output yet';
      throw new ServiceError('conflict', `Batch ${batchId} is ${batch.status} and has ${why}`, 'batch_id');
    }
    options.output ??= service.getFile(batch.output_file_id).path;
    options.input ??= inputPath(service, batch.input_file_id);
    if (batch.error_file_id) options.errors ??= service.getFile(batch.error_file_id).path;
    // A batch still running is analysed as far as its journals go, and the report says so.
    if (!TERMINAL_STATUSES.includes(batch.status))
      options.running = { status: batch.status, total: batch.request_counts.total };
  }
  if (!options.output)
    throw new ServiceError('invalid_request', 'name the output file (output) or a batch (batch_id)', 'output');
  try {
    return await analyzeResults(options as AnalyzeOptions);
  } catch (error) {
    throw error instanceof AnalysisError ? new ServiceError('invalid_request', error.message, 'output') : error;
  }
}

/** The batch's input file, while it is kept: its requests carry the answer's schema, if any,
 *  whose ranges and enums check the answers; without it, the analysis goes on without them. */
function inputPath(service: BatchService, id: string): string | undefined {
  try {
    const { path } = service.getFile(id);
    return existsSync(path) ? path : undefined;
  } catch (error) {
    if (error instanceof ServiceError) return undefined;
    throw error;
  }
}

// Conversion and analysis on behalf of a client (the extension): the same modules the CLI runs,
// with what the daemon knows filled in (a model's learned pace and calibration, a batch's files).
// Above csv/ and analysis/, below the transports that offer them.
import { existsSync } from 'node:fs';
import type { BatchService } from '../batches/service.js';
import { ServiceError } from '../batches/errors.js';
import type { AnalysisReport, AnalyzeOptions } from '../analysis/analyze.js';
import type { CascadePassFiles } from '../cascade/join.js';
import { cascadePasses, type CascadePasses } from '../cascade/passes.js';
import { TERMINAL_STATUSES, type Batch } from '../protocol/openai.js';
import type { ConvertOptions, ConvertReport } from '../csv/convert.js';

/** What a client sends; the daemon adds what it knows of the model. */
export type ConvertParams = Omit<
  ConvertOptions,
  'throughput' | 'calibrationFactor' | 'learnedNumCtx' | 'modelContextLength'
>;
/** The model's own context limit, as the engine tells it; undefined where it does not. */
export type ModelContextLength = (model: string) => Promise<number | undefined>;
/** Either the files, or a batch whose output and error files are analysed (its input gives the answer's schema). */
export type AnalyzeParams = Partial<Omit<AnalyzeOptions, 'running'>> & { batch_id?: string };

export async function convertFor(
  service: BatchService,
  params: ConvertParams,
  modelContextLength: ModelContextLength = () => Promise.resolve(undefined),
): Promise<ConvertReport> {
  // Loaded on first use: the tokenizer costs half a second and 70 MB.
  const [{ convertCsv, ConvertError }, { learnedInputs }, contextLength] = await Promise.all([
    import('../csv/convert.js'),
    import('../csv/estimate.js'),
    // The estimate checks the lines against the num_ctx the run will have: the model's limit caps it.
    modelContextLength(params.model).catch(() => undefined),
  ]);
  try {
    return await convertCsv({
      ...params,
      ...learnedInputs(service.modelStats(params.model)),
      ...(contextLength !== undefined && { modelContextLength: contextLength }),
    });
  } catch (error) {
    throw error instanceof ConvertError ? new ServiceError('invalid_request', error.message, 'input') : error;
  }
}

export async function analyzeFor(service: BatchService, params: AnalyzeParams): Promise<AnalysisReport> {
  const { analyzeResults, AnalysisError } = await import('../analysis/analyze.js');
  const { batch_id: batchId, ...given } = params;
  const options: Partial<AnalyzeOptions> = given;
  try {
    if (batchId !== undefined) {
      const batch = service.getBatch(batchId);
      const passes = cascadePasses(batch, service.allBatches());
      if (passes) return await analyzeCascade(service, passes, given);
      const files = filesOf(service, batch) ?? noOutput(batch);
      options.output ??= files.output;
      options.input ??= files.input;
      options.errors ??= files.errors;
      options.running = files.running;
    }
    if (!options.output)
      throw new ServiceError('invalid_request', 'name the output file (output) or a batch (batch_id)', 'output');
    return await analyzeResults(options as AnalyzeOptions);
  } catch (error) {
    throw error instanceof AnalysisError ? new ServiceError('invalid_request', error.message, 'output') : error;
  }
}

/**
 * Either pass of a cascade: both joined into one scored CSV, every row once, pass 2's answers
 * where it ran, on the source CSV the cascade was made from unless the client names another.
 */
async function analyzeCascade(
  service: BatchService,
  passes: CascadePasses,
  params: Omit<AnalyzeParams, 'batch_id'>,
): Promise<AnalysisReport> {
  const [{ joinCascade, cascadeAnalysis }, { defaultCsvPath }] = await Promise.all([
    import('../cascade/join.js'),
    import('../analysis/analyze.js'),
  ]);
  const { passOne, passTwo } = passes;
  // The passes' own files, ranked by pass 1's score: what would choose others is refused, not dropped.
  const refused: string[] = (['output', 'errors', 'input', 'sortBy'] as const).filter(
    (name) => params[name] !== undefined,
  );
  if (params.order === 'asc') refused.push('order');
  if (refused.length > 0)
    throw new ServiceError(
      'invalid_request',
      `Batch ${passOne.id} and its pass 2 are a cascade, analysed from their own files in pass 1's order (by its score, best first): ${refused.join(', ')} cannot apply`,
      refused[0],
    );
  const source = params.source ?? passOne.metadata?.source;
  if (!source)
    throw new ServiceError(
      'invalid_request',
      `Batch ${passOne.id} is pass 1 of a cascade: its passes are joined on the source CSV; name it (source)`,
      'source',
    );
  const pass1 = filesOf(service, passOne) ?? noOutput(passOne);
  const joined = await joinCascade({
    pass1,
    // Pass 2 before it is made, or before it runs: pass 1's rows alone.
    pass2: passTwo ? filesOf(service, passTwo) : null,
    source,
    csv: params.csv ?? defaultCsvPath(pass1.output),
    idColumn: params.idColumn,
    encoding: params.encoding,
    top: params.top,
    neutralise: params.neutralise,
  });
  return cascadeAnalysis(joined, passes);
}

/** A batch's files to analyse; null before it runs or after it ended with no line answered
 *  (OpenAI's null output_file_id). A batch still running is analysed as far as its journals go,
 *  and the report says so. */
function filesOf(service: BatchService, batch: Batch): CascadePassFiles | null {
  if (!batch.output_file_id) return null;
  return {
    output: service.getFile(batch.output_file_id).path,
    input: inputPath(service, batch.input_file_id),
    errors: batch.error_file_id ? service.getFile(batch.error_file_id).path : undefined,
    running: TERMINAL_STATUSES.includes(batch.status)
      ? undefined
      : { status: batch.status, total: batch.request_counts.total },
  };
}

function noOutput(batch: Batch): never {
  const why = TERMINAL_STATUSES.includes(batch.status) ? 'no answered line' : 'no output yet';
  throw new ServiceError('conflict', `Batch ${batch.id} is ${batch.status} and has ${why}`, 'batch_id');
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

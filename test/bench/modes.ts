// Figure 4, independent requests against the prototype's conversation mode: the same candidate
// lines (the sample job's rubric as the system prompt, its template and its answer schema, answers
// capped at the sample job's 400 tokens so that a whole answer fits) through the daemon on the
// llama-cpp engine with a 32K context (the prototype's), one batch in each mode (batch metadata
// `mode`), one slot. Sent prompt tokens, those evaluated (not served from the KV cache), cached
// ones, completion tokens, answers valid against the schema, req/s and mean latency, from the
// batches' usage and what each output line records.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertCsv } from '../../server/csv/convert.js';
import type { BatchMode } from '../../server/context/conversation.js';
import { checkAnswer } from '../../server/openai/answer-check.js';
import type { BatchOutputLine } from '../../server/openai/types.js';
import { writeCandidatesCsv } from '../fixtures/recruiting/candidates.js';
import { readSampleJob } from '../fixtures/recruiting/sample-job.js';
import { filePath, isFinished, submit, waitForBatch } from '../support/daemon-process.js';
import { tinyModelPath } from '../support/models.js';
import { removeScratchDir, scratchDir, startDaemonChild } from './children.js';
import { withDeadline } from './time.js';

const CONTEXT = 32_768;
/** The sample job's cap (README, "Try it"): room for a whole answer to the schema. */
const MAX_TOKENS = 400;

export interface ModeResult {
  mode: BatchMode;
  requests: number;
  wallMs: number;
  requestsPerSecond: number;
  promptTokens: number;
  cachedTokens: number;
  /** Prompt tokens the engine had to evaluate: sent less cached. */
  evaluatedTokens: number;
  completionTokens: number;
  /** Answers valid against the sample job's schema. */
  validAnswers: number;
  meanLatencyMs: number;
  trimmedLines: number;
}

export interface ModesResult {
  requests: number;
  context: number;
  independent: ModeResult;
  conversation: ModeResult;
}

export async function measureModes(options: { requests: number; threads: number }): Promise<ModesResult> {
  const work = scratchDir();
  const csv = join(work, 'candidates.csv');
  await writeCandidatesCsv(csv, { rows: options.requests });
  const input = join(work, 'candidates.jsonl');
  const job = readSampleJob();
  await convertCsv({
    input: csv,
    output: input,
    template: job.template,
    systemPrompt: job.rubric,
    schema: job.schema,
    idColumn: 'candidate_id',
    model: 'tiny',
    maxTokens: MAX_TOKENS,
    temperature: 0,
    numCtx: CONTEXT,
  });
  const daemon = await startDaemonChild(join(work, 'data'), [
    '--engine',
    'llama-cpp',
    '--model-path',
    await tinyModelPath(),
    '--num-ctx',
    String(CONTEXT),
    '--concurrency',
    '1',
    '--threads',
    String(options.threads),
    // This measures the modes' cost, not the answers: the tiny model's random weights break the
    // schema (scores past its maximum), and the pilot check would pause the batch for it.
    '--pilot-answers',
    '0',
  ]);
  try {
    const run = async (mode: BatchMode): Promise<ModeResult> => {
      const started = performance.now();
      const created = await submit(daemon.connection, input, '24h', { mode });
      const batch = await withDeadline(
        waitForBatch(daemon.connection, created.id, isFinished),
        1_800_000,
        `the ${mode} batch`,
      );
      const wallMs = performance.now() - started;
      if (batch.status !== 'completed' || batch.request_counts.failed > 0)
        throw new Error(
          `the ${mode} batch ended ${batch.status} with ${batch.request_counts.failed} failed\n${daemon.log()}`,
        );
      const output = readFileSync(await filePath(daemon.connection, batch.output_file_id!), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as BatchOutputLine);
      const {
        input_tokens: promptTokens,
        input_tokens_details: { cached_tokens: cachedTokens },
        output_tokens: completionTokens,
      } = batch.usage;
      const answers = output.map((line) =>
        line.response?.body && 'choices' in line.response.body ? line.response.body.choices[0]?.message.content : null,
      );
      return {
        mode,
        requests: output.length,
        wallMs,
        requestsPerSecond: (output.length * 1000) / wallMs,
        promptTokens,
        cachedTokens,
        evaluatedTokens: promptTokens - cachedTokens,
        completionTokens,
        validAnswers: answers.filter((answer) => checkAnswer(answer, job.schema).valid).length,
        meanLatencyMs: output.reduce((sum, line) => sum + line.ollama_batch!.latency_ms, 0) / output.length,
        trimmedLines: output.filter((line) => line.ollama_batch!.trim).length,
      };
    };
    const independent = await run('independent');
    const conversation = await run('conversation');
    return { requests: options.requests, context: CONTEXT, independent, conversation };
  } finally {
    await daemon.stop();
    removeScratchDir(work);
  }
}

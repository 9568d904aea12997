// Figure 7, the cascade against a single pass: the sample job's candidates on the tiny model
// through the daemon (engine llama-cpp, 1 slot), once with the full answer schema for every row
// (the baseline), once as a cascade (pass 1 the score alone for every row, pass 2 the full answer
// for the top K%, made by the daemon from pass 1's shortlist). Completion tokens and engine
// seconds per candidate, from the batches' usage and the latency each output line records (1
// slot: the sum of latencies is the engine's busy time). On a shared machine the engine's pace
// drifts with the load: the candidates are split into rounds, each run both ways, the order
// alternating, and the costs summed.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageConnection } from 'vscode-jsonrpc';
import { convertCsv, scoreOutputPath } from '../../server/csv/convert.js';
import type { BatchOutputLine } from '../../server/openai/types.js';
import { CASCADE_METADATA as KEYS } from '../../server/protocol/cascade.js';
import * as protocol from '../../server/protocol/methods.js';
import type { Batch } from '../../server/protocol/openai.js';
import { DEFAULT_SEED, writeCandidatesCsv } from '../fixtures/recruiting/candidates.js';
import { readSampleJob } from '../fixtures/recruiting/sample-job.js';
import { filePath, isFinished, submit, waitForAnyBatch, waitForBatch } from '../support/daemon-process.js';
import { tinyModelPath } from '../support/models.js';
import { removeScratchDir, scratchDir, startDaemonChild } from './children.js';
import { withDeadline } from './time.js';

export interface PassCost {
  requests: number;
  completionTokens: number;
  /** Sum of the lines' latencies: the engine's busy time with one slot. */
  engineSeconds: number;
}

export interface CascadeResult {
  candidates: number;
  rounds: number;
  topPercent: number;
  single: PassCost;
  pass1: PassCost;
  pass2: PassCost;
  /** Rows pass 2 explained: ceil(topPercent of each round's candidates) when every score was valid. */
  shortlisted: number;
  /** What a whole shortlist is: the sum over the rounds of ceil(topPercent of its candidates). */
  expectedShortlist: number;
}

const DEADLINE_MS = 3_600_000;
const NOTHING: PassCost = { requests: 0, completionTokens: 0, engineSeconds: 0 };

const add = (a: PassCost, b: PassCost): PassCost => ({
  requests: a.requests + b.requests,
  completionTokens: a.completionTokens + b.completionTokens,
  engineSeconds: a.engineSeconds + b.engineSeconds,
});

async function costOf(connection: MessageConnection, batch: Batch, what: string): Promise<PassCost> {
  if (batch.status !== 'completed' || batch.request_counts.failed > 0)
    throw new Error(`${what} ended ${batch.status} with ${batch.request_counts.failed} failed lines`);
  const lines = readFileSync(await filePath(connection, batch.output_file_id!), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as BatchOutputLine);
  return {
    requests: lines.length,
    completionTokens: batch.usage.output_tokens,
    engineSeconds: lines.reduce((sum, line) => sum + line.ollama_batch!.latency_ms, 0) / 1000,
  };
}

/**
 * One round's candidates converted both ways, each as convert writes it by default: the single
 * pass (full answers with the top logprobs that give expected scores) and the cascade (pass 1's
 * scores with them, pass 2's full answers without). Both jobs rank every row by expected score.
 */
async function roundFiles(dir: string, rows: number, seed: number): Promise<{ single: string; cascade: string }> {
  const csv = join(dir, 'candidates.csv');
  await writeCandidatesCsv(csv, { rows, seed });
  const job = readSampleJob();
  const files = { single: join(dir, 'single.jsonl'), cascade: join(dir, 'cascade.jsonl') };
  for (const [way, output] of Object.entries(files))
    await convertCsv({
      input: csv,
      output,
      template: job.template,
      systemPrompt: job.rubric,
      schema: job.schema,
      idColumn: 'candidate_id',
      model: 'tiny',
      temperature: 0,
      cascade: way === 'cascade',
    });
  return files;
}

export async function measureCascade(options: {
  candidates: number;
  rounds: number;
  topPercent: number;
  threads: number;
}): Promise<CascadeResult> {
  const work = scratchDir();
  const daemon = await startDaemonChild(join(work, 'data'), [
    '--engine',
    'llama-cpp',
    '--model-path',
    await tinyModelPath(),
    '--concurrency',
    '1',
    '--threads',
    String(options.threads),
  ]);
  const { connection } = daemon;
  const finished = (batch: Batch, what: string): Promise<Batch> =>
    withDeadline(waitForBatch(connection, batch.id, isFinished), DEADLINE_MS, what);
  const singlePass = async (full: string): Promise<PassCost> =>
    costOf(connection, await finished(await submit(connection, full), 'the single pass'), 'the single pass');
  const cascade = async (full: string): Promise<{ pass1: PassCost; pass2: PassCost; shortlisted: number }> => {
    const fullFile = await connection.sendRequest(protocol.FileRegisterRequest.type, { path: full });
    const pass1 = await finished(
      await submit(connection, scoreOutputPath(full), '24h', {
        [KEYS.pass]: '1',
        [KEYS.fullInputFileId]: fullFile.id,
        [KEYS.shortlist]: `top ${options.topPercent}%`,
        [KEYS.scoreField]: 'score',
      }),
      'cascade pass 1',
    );
    const created = await withDeadline(
      waitForAnyBatch(connection, (batch) => batch.metadata?.[KEYS.of] === pass1.id),
      DEADLINE_MS,
      'cascade pass 2 to be made',
    );
    const pass2 = await finished(created, 'cascade pass 2');
    // An empty shortlist fails pass 2's validation: nothing ran.
    const empty = pass2.status === 'failed';
    return {
      pass1: await costOf(connection, pass1, 'cascade pass 1'),
      pass2: empty ? NOTHING : await costOf(connection, pass2, 'cascade pass 2'),
      shortlisted: empty ? 0 : pass2.request_counts.total,
    };
  };
  const result: CascadeResult = {
    candidates: 0,
    rounds: options.rounds,
    topPercent: options.topPercent,
    single: NOTHING,
    pass1: NOTHING,
    pass2: NOTHING,
    shortlisted: 0,
    expectedShortlist: 0,
  };
  try {
    for (let round = 0; round < options.rounds; round++) {
      const rows = Math.ceil(options.candidates / options.rounds);
      const dir = join(work, `round-${round}`);
      mkdirSync(dir);
      const files = await roundFiles(dir, rows, DEFAULT_SEED + round);
      const runSingle = async (): Promise<void> =>
        void (result.single = add(result.single, await singlePass(files.single)));
      const runCascade = async (): Promise<void> => {
        const { pass1, pass2, shortlisted } = await cascade(files.cascade);
        result.pass1 = add(result.pass1, pass1);
        result.pass2 = add(result.pass2, pass2);
        result.shortlisted += shortlisted;
      };
      for (const step of round % 2 === 0 ? [runSingle, runCascade] : [runCascade, runSingle]) await step();
      result.candidates += rows;
      result.expectedShortlist += Math.ceil((rows * options.topPercent) / 100);
    }
    return result;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${daemon.log()}`, { cause: error });
  } finally {
    await daemon.stop();
    removeScratchDir(work);
  }
}

// Figure 7, the cascade against a single pass: the sample job's candidates on the tiny model
// through the daemon (engine llama-cpp, 1 slot), once with the full answer schema for every row
// (the baseline), once as a cascade (pass 1 the score alone for every row, pass 2 the full answer
// for the top K%, made by the daemon from pass 1's shortlist). Completion tokens and engine
// seconds per candidate, from the batches' usage and the latency each output line records (1
// slot: the sum of latencies is the engine's busy time).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageConnection } from 'vscode-jsonrpc';
import { convertCsv, scoreOutputPath } from '../../server/csv/convert.js';
import type { BatchOutputLine } from '../../server/openai/types.js';
import { CASCADE_METADATA as KEYS } from '../../server/protocol/cascade.js';
import * as protocol from '../../server/protocol/methods.js';
import type { Batch } from '../../server/protocol/openai.js';
import { writeCandidatesCsv } from '../fixtures/recruiting/candidates.js';
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
  topPercent: number;
  single: PassCost;
  pass1: PassCost;
  pass2: PassCost;
  /** Rows pass 2 explained: ceil(topPercent of candidates) when every score was valid. */
  shortlisted: number;
}

const DEADLINE_MS = 3_600_000;

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

export async function measureCascade(options: {
  candidates: number;
  topPercent: number;
  threads: number;
}): Promise<CascadeResult> {
  const work = scratchDir();
  const csv = join(work, 'candidates.csv');
  await writeCandidatesCsv(csv, { rows: options.candidates });
  const job = readSampleJob();
  const full = join(work, 'candidates.jsonl');
  await convertCsv({
    input: csv,
    output: full,
    template: job.template,
    systemPrompt: job.rubric,
    schema: job.schema,
    idColumn: 'candidate_id',
    model: 'tiny',
    temperature: 0,
    cascade: true,
  });
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
  try {
    const single = await finished(await submit(connection, full), 'the single pass');
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
    const empty = pass2.status === 'failed';
    return {
      candidates: options.candidates,
      topPercent: options.topPercent,
      single: await costOf(connection, single, 'the single pass'),
      pass1: await costOf(connection, pass1, 'cascade pass 1'),
      pass2: empty ? { requests: 0, completionTokens: 0, engineSeconds: 0 } : await costOf(connection, pass2, 'pass 2'),
      shortlisted: empty ? 0 : pass2.request_counts.total,
    };
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${daemon.log()}`, { cause: error });
  } finally {
    await daemon.stop();
    removeScratchDir(work);
  }
}

// Figure 2, engine efficiency: the same requests (a ~600-token rubric as the byte-identical
// system prompt, a varying user part, 16 max tokens) on the tiny model, once through the daemon
// (engine llama-cpp, in the daemon's process) and once through LlamaCppEngine driven directly by
// this process, with the same slots and threads. Both sides are warm (model loaded, one warm-up
// request per slot) and are timed from the first request sent to the last answer: for the
// daemon, from submit to completed. daemon/direct near 1 means the daemon keeps the engine busy.
//
// The machine is shared and noisy: the two sides run in alternating rounds (daemon, direct,
// daemon, direct, ...) and each side's best round counts (noise only ever slows a round down).
// Both engines stay loaded throughout; only one of them works at a time.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaCppEngine } from '../../server/engines/llama-cpp.js';
import { toChatRequest } from '../../server/engines/translate.js';
import type { BatchInputLine } from '../../server/protocol/openai.js';
import { batchLines } from '../support/batch-files.js';
import { isFinished, submit, waitForBatch } from '../support/daemon-process.js';
import { tinyModelPath } from '../support/models.js';
import { removeScratchDir, scratchDir, startDaemonChild, type DaemonChild } from './children.js';
import { cpuMs } from './proc.js';
import { rubric } from './prompts.js';
import { withDeadline } from './time.js';

export interface EngineBenchOptions {
  requests: number;
  slots: number;
  threads: number;
  maxTokens: number;
  /** Rubric paragraphs: 4 gives a ~600-token system prompt with the tiny model's tokenizer. */
  rubricParagraphs: number;
  /** Alternating rounds per side; the best round of each side counts (default 3). */
  rounds?: number;
  /** When set, the daemon runs under `node --cpu-prof` and writes its profile here. */
  profileDir?: string;
}

export interface EngineRound {
  wallMs: number;
  requestsPerSecond: number;
  promptTokensPerRequest: number;
  cachedShare: number;
  completionTokens: number;
  /** CPU of the process that ran the engine (daemon, or this process for direct), ms per request. */
  cpuMsPerRequest: number;
  failed: number;
}

export interface EngineSide extends EngineRound {
  /** Every round, in order; the fields above are the best round's. */
  rounds: EngineRound[];
}

export interface EngineResult {
  requests: number;
  slots: number;
  threads: number;
  systemPromptChars: number;
  daemon: EngineSide;
  direct: EngineSide;
}

const modelName = (path: string): string => path.slice(path.lastIndexOf('/') + 1).replace(/\.gguf$/, '');
const deadlineMs = (requests: number): number => 120_000 + requests * 2_000;

async function daemonRound(daemon: DaemonChild, inputPath: string, requests: number): Promise<EngineRound> {
  const cpuBefore = cpuMs(daemon.pid);
  const started = performance.now();
  const created = await submit(daemon.connection, inputPath);
  const batch = await withDeadline(
    waitForBatch(daemon.connection, created.id, isFinished),
    deadlineMs(requests),
    `the daemon's batch of ${requests} requests`,
  );
  const wallMs = performance.now() - started;
  const cpu = cpuMs(daemon.pid) - cpuBefore;
  if (batch.status !== 'completed') throw new Error(`the daemon's batch ended ${batch.status}\n${daemon.log()}`);
  const usage = batch.usage;
  return {
    wallMs,
    requestsPerSecond: (requests * 1000) / wallMs,
    promptTokensPerRequest: usage.input_tokens / requests,
    cachedShare: usage.input_tokens > 0 ? usage.input_tokens_details.cached_tokens / usage.input_tokens : 0,
    completionTokens: usage.output_tokens,
    cpuMsPerRequest: cpu / requests,
    failed: batch.request_counts.failed,
  };
}

async function directRound(engine: LlamaCppEngine, requests: BatchInputLine[], slots: number): Promise<EngineRound> {
  const signal = new AbortController().signal;
  let next = 0;
  let failed = 0;
  let promptTokens = 0;
  let cachedTokens = 0;
  let completionTokens = 0;
  // As the daemon does: at most `slots` requests in flight, each translated when it is sent.
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const line = requests[next++]!;
      try {
        const result = await engine.chat(toChatRequest(line.body), signal);
        promptTokens += result.promptTokens;
        cachedTokens += result.cachedTokens ?? 0;
        completionTokens += result.completionTokens;
      } catch {
        failed++;
      }
    }
  };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await withDeadline(
    Promise.all(Array.from({ length: slots }, worker)),
    deadlineMs(requests.length),
    `the direct loop of ${requests.length} requests`,
  );
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    wallMs,
    requestsPerSecond: (requests.length * 1000) / wallMs,
    promptTokensPerRequest: promptTokens / requests.length,
    cachedShare: promptTokens > 0 ? cachedTokens / promptTokens : 0,
    completionTokens,
    cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / requests.length,
    failed,
  };
}

const best = (rounds: EngineRound[]): EngineSide => ({
  ...rounds.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a)),
  rounds,
});

export async function measureEngine(options: EngineBenchOptions): Promise<EngineResult> {
  const modelPath = await tinyModelPath();
  const name = modelName(modelPath);
  const systemPrompt = rubric(options.rubricParagraphs);
  const work = scratchDir();
  const parse = (text: string): BatchInputLine[] =>
    text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as BatchInputLine);
  let daemon: DaemonChild | undefined;
  let engine: LlamaCppEngine | undefined;
  try {
    // One warm-up request per slot, with the same system prompt, on both sides.
    const warmText = batchLines(options.slots, {
      model: name,
      systemPrompt,
      maxTokens: options.maxTokens,
      prefix: 'warm',
    });
    const text = batchLines(options.requests, { model: name, systemPrompt, maxTokens: options.maxTokens });
    const warmPath = join(work, 'warm.jsonl');
    const inputPath = join(work, 'engine.jsonl');
    writeFileSync(warmPath, warmText);
    writeFileSync(inputPath, text);

    const nodeArgs: string[] = [];
    if (options.profileDir) {
      mkdirSync(options.profileDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`);
    }
    daemon = await startDaemonChild(
      join(work, 'data'),
      [
        '--engine',
        'llama-cpp',
        '--model-path',
        modelPath,
        '--concurrency',
        String(options.slots),
        '--threads',
        String(options.threads),
      ],
      nodeArgs,
    );
    const warm = await submit(daemon.connection, warmPath);
    const warmed = await withDeadline(
      waitForBatch(daemon.connection, warm.id, isFinished),
      deadlineMs(options.slots),
      'the warm-up batch',
    );
    if (warmed.status !== 'completed') throw new Error(`the warm-up batch ended ${warmed.status}\n${daemon.log()}`);

    engine = await LlamaCppEngine.load({ modelPath, slots: options.slots, threads: options.threads });
    const signal = new AbortController().signal;
    await Promise.all(parse(warmText).map((line) => engine!.chat(toChatRequest(line.body), signal)));

    const requests = parse(text);
    const daemonRounds: EngineRound[] = [];
    const directRounds: EngineRound[] = [];
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      daemonRounds.push(await daemonRound(daemon, inputPath, options.requests));
      directRounds.push(await directRound(engine, requests, options.slots));
    }
    const failed = [...daemonRounds, ...directRounds].reduce((sum, round) => sum + round.failed, 0);
    if (failed > 0) throw new Error(`${failed} engine requests failed: the figures would be wrong`);
    return {
      requests: options.requests,
      slots: options.slots,
      threads: options.threads,
      systemPromptChars: systemPrompt.length,
      daemon: best(daemonRounds),
      direct: best(directRounds),
    };
  } finally {
    await daemon?.stop();
    await engine?.close();
    removeScratchDir(work);
  }
}

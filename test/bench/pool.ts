// Figure 8, one batch over a pool of engines (issue 16): the real daemon (a child process) runs
// one batch over Ollama emulators, each in its own process (--instant with --latency-ms: every
// answer takes that long and holds one of the emulator's slots, as a GPU's would), listed in
// config.json's `endpoints`, each with the concurrency of its slots.
//   a. scaling: the same batch on 1, 2 and 4 endpoints of the same speed; the baseline is one
//      endpoint run as a single engine is run today (--engine ollama --ollama-url --concurrency).
//   b. a mixed pool: one endpoint at full speed and one at half, against the sum of what each
//      does alone (each measured alone in the same run).
//   c. a fault: two endpoints, one killed with SIGKILL mid-batch and started again on its port
//      downMs later. Every custom_id must be answered exactly once, and the wall time is set
//      against the least time the surviving capacity allows: each endpoint at its own measured
//      pace while its process was up.
// Throughput is the batch's lines over its wall time, from submit to the finished batch.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configPath } from '../../server/config/effective.js';
import type { EndpointConfig, EndpointStatus } from '../../server/protocol/endpoints.js';
import * as protocol from '../../server/protocol/methods.js';
import type { Batch } from '../../server/protocol/openai.js';
import { batchLines } from '../support/batch-files.js';
import { filePath, isFinished, submit, waitForBatch } from '../support/daemon-process.js';
import { readJsonl, tallyCustomIds } from '../support/shapes.js';
import type { BatchOutputLine } from '../../server/openai/types.js';
import {
  removeScratchDir,
  scratchDir,
  startDaemonChild,
  startInstantEmulator,
  type DaemonChild,
  type EmulatorProcess,
} from './children.js';
import { serveTime } from './capacity.js';
import { cpuMs } from './proc.js';
import { withDeadline } from './time.js';

export interface PoolOptions {
  /**
   * Lines of the scaling and mixed batches: enough that the batch's start (registering,
   * validating, the first answers: about 0.5 s) weighs little even on 4 endpoints.
   */
  lines: number;
  /** Per answer of a full-speed endpoint; a half-speed one takes twice as long. */
  latencyMs: number;
  /** Slots of each emulator, and the concurrency each endpoint is given. */
  slots: number;
  /** How long the killed endpoint stays down. */
  downMs: number;
  /** The fault batch runs on both endpoints this long before the kill, and this long again after the return. */
  killAfterMs: number;
  afterReturnMs: number;
}

export interface BatchRun {
  endpoints: number;
  lines: number;
  wallMs: number;
  requestsPerSecond: number;
  /** The daemon's CPU time per line: where the machine, not the pool, bounds the pace. */
  daemonCpuMsPerLine: number;
  /** What the daemon tells of each endpoint for the measured batch. */
  perEndpoint: Array<Pick<EndpointStatus, 'name' | 'answered' | 'errors' | 'hedged' | 'hedgesWon'>>;
}

export interface KillRun extends BatchRun {
  killedAtMs: number;
  /** When the emulator listened again on its port, ms after submit. */
  backAtMs: number;
  /** The least wall time the endpoints allow at their own paces while up (see serveTime). */
  boundMs: number;
  lost: number;
  duplicated: number;
  failed: number;
}

export interface PoolResult {
  options: PoolOptions;
  /** A full-speed endpoint alone: the scaling baseline and its own pace in the mixed pool. */
  single: BatchRun;
  two: BatchRun;
  four: BatchRun;
  halfSpeedAlone: BatchRun;
  mixed: BatchRun;
  kill: KillRun;
}

const MODEL = 'instant';
/** Lines of the warm-up batch each daemon runs before the one measured. */
const WARM_LINES = 200;

/**
 * A fresh daemon over `endpoints`: one is run as a single engine is today (flags), several as a
 * pool from config.json's `endpoints`, as a user writes it.
 */
async function startDaemon(work: string, endpoints: EmulatorProcess[], slots: number): Promise<DaemonChild> {
  const dataDir = join(work, `data-${Date.now()}`);
  if (endpoints.length === 1)
    return startDaemonChild(dataDir, [
      '--engine',
      'ollama',
      '--ollama-url',
      endpoints[0]!.url,
      '--concurrency',
      String(slots),
    ]);
  const config: EndpointConfig[] = endpoints.map((emulator) => ({
    engine: 'ollama',
    url: emulator.url,
    concurrency: slots,
  }));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(configPath(dataDir), `${JSON.stringify({ endpoints: config }, null, 2)}\n`, { mode: 0o600 });
  return startDaemonChild(dataDir, []);
}

/** Each endpoint's counts since `since` (the daemon counts from its start). */
async function perEndpoint(daemon: DaemonChild, since: EndpointStatus[] = []): Promise<BatchRun['perEndpoint']> {
  const info = await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type);
  return (info.endpoints ?? []).map((now) => {
    const before = since.find(({ name }) => name === now.name);
    const delta = (key: 'answered' | 'errors' | 'hedged' | 'hedgesWon'): number => now[key] - (before?.[key] ?? 0);
    return {
      name: now.name,
      answered: delta('answered'),
      errors: delta('errors'),
      hedged: delta('hedged'),
      hedgesWon: delta('hedgesWon'),
    };
  });
}

/** Generous: ten times the slowest endpoint's time for the whole batch alone, plus a minute. */
const deadlineMs = (lines: number, options: PoolOptions): number =>
  60_000 + (10 * lines * 2 * options.latencyMs) / options.slots;

/**
 * Runs one batch of `lines` on a fresh daemon over `endpoints`; `during` is called once it is
 * submitted (the fault scenario's kill and return), and awaited before the batch is.
 */
async function runBatch(
  work: string,
  endpoints: EmulatorProcess[],
  lines: number,
  options: PoolOptions,
  during?: (daemon: DaemonChild, batch: Batch, started: number) => Promise<void>,
): Promise<{ run: BatchRun; batch: Batch; inputIds: string[]; daemon: DaemonChild }> {
  const inputPath = join(work, `batch-${endpoints.length}-${Date.now()}.jsonl`);
  writeFileSync(inputPath, batchLines(lines, { model: MODEL, maxTokens: 16 }));
  const inputIds = Array.from({ length: lines }, (_, index) => `req-${index + 1}`);
  const daemon = await startDaemon(work, endpoints, options.slots);
  try {
    // Warm the daemon's JIT first, as overhead.ts does: a daemon serves batch after batch, and
    // its first one's compiling (about 1 s of CPU) would weigh on the shorter pooled runs most.
    const warmPath = join(work, `warm-${Date.now()}.jsonl`);
    writeFileSync(warmPath, batchLines(WARM_LINES, { model: MODEL, maxTokens: 16, prefix: 'warm' }));
    const warm = await submit(daemon.connection, warmPath);
    await withDeadline(
      waitForBatch(daemon.connection, warm.id, isFinished),
      deadlineMs(WARM_LINES, options),
      "the daemon's warm-up batch",
    );
    const counted = (await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type)).endpoints;
    const cpuBefore = cpuMs(daemon.pid);
    const started = performance.now();
    const created = await submit(daemon.connection, inputPath);
    const finished = waitForBatch(daemon.connection, created.id, isFinished);
    if (during) await during(daemon, created, started);
    const batch = await withDeadline(
      finished,
      deadlineMs(lines, options),
      `a batch of ${lines} lines on ${endpoints.length} endpoint(s)`,
    );
    const wallMs = performance.now() - started;
    if (batch.status !== 'completed')
      throw new Error(`the batch ended ${batch.status}: ${JSON.stringify(batch.errors)}\n${daemon.log()}`);
    const run: BatchRun = {
      endpoints: endpoints.length,
      lines,
      wallMs,
      requestsPerSecond: (batch.request_counts.completed * 1000) / wallMs,
      daemonCpuMsPerLine: (cpuMs(daemon.pid) - cpuBefore) / lines,
      perEndpoint: await perEndpoint(daemon, counted),
    };
    return { run, batch, inputIds, daemon };
  } catch (error) {
    await daemon.stop();
    throw new Error(`${(error as Error).message}\n${daemon.log()}`, { cause: error });
  }
}

/** A batch that must answer every line: the throughput figures would be wrong otherwise. */
async function measureThroughput(work: string, endpoints: EmulatorProcess[], options: PoolOptions): Promise<BatchRun> {
  const { run, batch, daemon } = await runBatch(work, endpoints, options.lines, options);
  await daemon.stop();
  if (batch.request_counts.completed !== options.lines)
    throw new Error(
      `${endpoints.length} endpoint(s) answered ${batch.request_counts.completed} of ${options.lines} lines (${batch.request_counts.failed} failed): the figures would be wrong`,
    );
  return run;
}

/**
 * The fault: two full-speed endpoints; once the batch has answered killAfterMs' worth of lines,
 * the second is killed (SIGKILL) and started again on its port downMs later.
 */
async function measureKill(
  work: string,
  survivor: EmulatorProcess,
  victim: EmulatorProcess,
  ownPerSecond: number,
  options: PoolOptions,
): Promise<{ run: KillRun; victim: EmulatorProcess }> {
  const nominal = (options.slots * 1000) / options.latencyMs;
  const killAfter = Math.round((2 * nominal * options.killAfterMs) / 1000);
  const lines = killAfter + Math.round((nominal * options.downMs + 2 * nominal * options.afterReturnMs) / 1000);
  const port = Number(new URL(victim.url).port);
  let killedAtMs = 0;
  let backAtMs = 0;
  let back = victim;
  const { run, batch, inputIds, daemon } = await runBatch(
    work,
    [survivor, victim],
    lines,
    options,
    async (daemon, created, started) => {
      await withDeadline(
        waitForBatch(
          daemon.connection,
          created.id,
          (batch) => batch.request_counts.completed >= killAfter || isFinished(batch),
        ),
        deadlineMs(lines, options),
        `${killAfter} answered lines before the kill`,
      );
      await victim.kill9();
      killedAtMs = performance.now() - started;
      // The scenario itself: the endpoint stays down this long, whatever the daemon does meanwhile.
      await new Promise((resolve) => setTimeout(resolve, options.downMs));
      back = await startInstantEmulator(options.slots, options.latencyMs, port);
      backAtMs = performance.now() - started;
    },
  );
  try {
    const output = await filePath(daemon.connection, batch.output_file_id);
    const errors = await filePath(daemon.connection, batch.error_file_id);
    const written = [output, errors].flatMap((path) => (path === null ? [] : readJsonl<BatchOutputLine>(path)));
    const tally = tallyCustomIds(inputIds, written);
    if (tally.unknown.length > 0)
      throw new Error(`the batch wrote custom_ids not in its input: ${tally.unknown.slice(0, 5).join(', ')}`);
    const boundMs = serveTime(lines, [
      { perSecond: ownPerSecond, down: [] },
      { perSecond: ownPerSecond, down: [[killedAtMs, backAtMs]] },
    ]);
    return {
      run: {
        ...run,
        killedAtMs,
        backAtMs,
        boundMs,
        lost: tally.missing.length,
        duplicated: tally.twice.length,
        failed: batch.request_counts.failed,
      },
      victim: back,
    };
  } finally {
    await daemon.stop();
  }
}

export async function measurePool(options: PoolOptions, log: (line: string) => void): Promise<PoolResult> {
  const work = scratchDir();
  const fast = await Promise.all(
    Array.from({ length: 4 }, () => startInstantEmulator(options.slots, options.latencyMs)),
  );
  const slow = await startInstantEmulator(options.slots, 2 * options.latencyMs);
  const emulators = [...fast, slow];
  const report = (what: string, run: BatchRun): BatchRun => {
    const split = run.perEndpoint.map(
      (each) => `${each.name} ${each.answered}${each.hedged ? ` (${each.hedgesWon}/${each.hedged} hedges won)` : ''}`,
    );
    log(
      `  ${what}: ${run.lines} lines in ${(run.wallMs / 1000).toFixed(2)} s, ${run.requestsPerSecond.toFixed(1)} req/s, daemon CPU ${run.daemonCpuMsPerLine.toFixed(2)} ms/line${split.length > 1 ? `; answered: ${split.join(', ')}` : ''}`,
    );
    return run;
  };
  try {
    const single = report('1 endpoint', await measureThroughput(work, fast.slice(0, 1), options));
    const two = report('2 endpoints', await measureThroughput(work, fast.slice(0, 2), options));
    const four = report('4 endpoints', await measureThroughput(work, fast, options));
    const halfSpeedAlone = report('the half-speed endpoint alone', await measureThroughput(work, [slow], options));
    const mixed = report('full + half speed', await measureThroughput(work, [fast[0]!, slow], options));
    const { run: kill, victim } = await measureKill(work, fast[0]!, fast[1]!, single.requestsPerSecond, options);
    emulators[1] = victim;
    report('2 endpoints, one killed', kill);
    log(
      `    killed at ${(kill.killedAtMs / 1000).toFixed(1)} s, back at ${(kill.backAtMs / 1000).toFixed(1)} s; least time the endpoints allow ${(kill.boundMs / 1000).toFixed(1)} s; ` +
        `lost ${kill.lost}, written twice ${kill.duplicated}, failed ${kill.failed}`,
    );
    return { options, single, two, four, halfSpeedAlone, mixed, kill };
  } finally {
    await Promise.all(emulators.map((emulator) => emulator.stop()));
    removeScratchDir(work);
  }
}

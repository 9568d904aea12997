// Figure 1, the daemon's own cost per request: the real daemon (a child process, engine ollama)
// runs a batch against the Ollama emulator in instant mode (another child process, answers at
// no cost), and a direct loop with the `ollama` npm client at the same concurrency against the
// same emulator is the baseline. What the daemon adds on top of the direct loop is its
// orchestration: reading and validating the file, the queue, retries, journals, notifications.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import type { BatchInputLine } from '../../server/protocol/openai.js';
import { batchLines } from '../support/batch-files.js';
import { isFinished, submit, waitForBatch } from '../support/daemon-process.js';
import {
  removeScratchDir,
  scratchDir,
  startDaemonChild,
  startInstantEmulator,
  type EmulatorProcess,
} from './children.js';
import { cpuMs, memory, RssSampler } from './proc.js';
import { withDeadline } from './time.js';

/** Requests that warm a process's JIT before it is measured. */
const WARM_LINES = 2_000;

export interface OverheadOptions {
  lines: number;
  concurrency: number;
  /** Emulator slots (OLLAMA_NUM_PARALLEL); above `concurrency` so that it never queues. */
  parallel: number;
  /** When set, the daemon runs under `node --cpu-prof` and writes its profile here. */
  profileDir?: string;
  /** Extra node options for the daemon (investigations, e.g. --max-old-space-size=64). */
  nodeArgs?: string[];
}

export interface OverheadResult {
  lines: number;
  concurrency: number;
  daemon: {
    wallMs: number;
    requestsPerSecond: number;
    cpuMs: number;
    cpuMsPerRequest: number;
    /** VmHWM at the end: the peak resident set of the whole daemon life. */
    peakRssBytes: number;
    /** The largest VmRSS seen by polling every 50 ms (cross-check of the peak). */
    polledPeakRssBytes: number;
    /** VmRSS once ready, before the batch. */
    idleRssBytes: number;
    /** VmRSS over the run: [ms since submit, MB], at most 40 points (each the peak of its stretch). */
    rssOutline: Array<[number, number]>;
    completed: number;
    failed: number;
    /** CPU of the emulator process and of this process (the RPC client) during the daemon's run. */
    emulatorCpuMsPerRequest: number;
    benchCpuMsPerRequest: number;
  };
  direct: {
    wallMs: number;
    requestsPerSecond: number;
    /** CPU of the benchmark process itself while it ran the loop. */
    cpuMsPerRequest: number;
    emulatorCpuMsPerRequest: number;
    failed: number;
  };
  /** The floor: plain node:http keep-alive requests, same bodies, no client library. */
  raw: {
    wallMs: number;
    requestsPerSecond: number;
    cpuMsPerRequest: number;
    emulatorCpuMsPerRequest: number;
    failed: number;
  };
}

/** The daemon's engine request for an input line, as the ollama engine sends it. */
function ollamaRequest(line: BatchInputLine) {
  const body = line.body;
  return {
    model: body.model,
    messages: body.messages.map((message) => ({
      role: message.role,
      content: typeof message.content === 'string' ? message.content : '',
    })),
    options: {
      ...(body.temperature !== undefined && { temperature: body.temperature }),
      ...(body.seed !== undefined && { seed: body.seed }),
      ...(body.max_tokens != null && { num_predict: body.max_tokens }),
    },
    keep_alive: -1,
    stream: false as const,
  };
}

async function runDaemon(
  inputPath: string,
  emulator: EmulatorProcess,
  options: OverheadOptions,
  work: string,
): Promise<OverheadResult['daemon']> {
  const nodeArgs = [...(options.nodeArgs ?? [])];
  if (options.profileDir) {
    mkdirSync(options.profileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`);
  }
  const daemon = await startDaemonChild(
    join(work, 'data'),
    ['--engine', 'ollama', '--ollama-url', emulator.url, '--concurrency', String(options.concurrency)],
    nodeArgs,
  );
  try {
    const idleRssBytes = memory(daemon.pid).rss;
    // Warm the daemon's JIT with a small batch first, as the emulator's: a daemon serves batch
    // after batch, and compiling its hot paths is a cost per process, not per request.
    const warmPath = join(work, 'warm.jsonl');
    writeFileSync(warmPath, batchLines(WARM_LINES, { model: 'instant', maxTokens: 16, prefix: 'warm' }));
    const warm = await submit(daemon.connection, warmPath);
    await withDeadline(waitForBatch(daemon.connection, warm.id, isFinished), 60_000, "the daemon's warm-up batch");
    const sampler = new RssSampler(daemon.pid, 50);
    const cpuBefore = cpuMs(daemon.pid);
    const emulatorBefore = cpuMs(emulator.child.pid!);
    const benchBefore = process.cpuUsage();
    const started = performance.now();
    const created = await submit(daemon.connection, inputPath);
    const batch = await withDeadline(
      waitForBatch(daemon.connection, created.id, isFinished),
      60_000 + options.lines * 5,
      `the daemon's batch of ${options.lines} lines`,
    );
    const wallMs = performance.now() - started;
    const cpu = cpuMs(daemon.pid) - cpuBefore;
    const emulatorCpu = cpuMs(emulator.child.pid!) - emulatorBefore;
    const bench = process.cpuUsage(benchBefore);
    const polled = sampler.stop();
    const peakRssBytes = memory(daemon.pid).peak;
    if (batch.status !== 'completed')
      throw new Error(`the daemon's batch ended ${batch.status}: ${JSON.stringify(batch.errors)}\n${daemon.log()}`);
    if (batch.request_counts.completed !== options.lines) {
      throw new Error(
        `the daemon answered ${batch.request_counts.completed} of ${options.lines} lines (${batch.request_counts.failed} failed): the figures would be wrong`,
      );
    }
    return {
      wallMs,
      requestsPerSecond: (options.lines * 1000) / wallMs,
      cpuMs: cpu,
      cpuMsPerRequest: cpu / options.lines,
      peakRssBytes,
      polledPeakRssBytes: polled,
      idleRssBytes,
      rssOutline: sampler.outline(),
      completed: batch.request_counts.completed,
      failed: batch.request_counts.failed,
      emulatorCpuMsPerRequest: emulatorCpu / options.lines,
      benchCpuMsPerRequest: (bench.user + bench.system) / 1000 / options.lines,
    };
  } finally {
    await daemon.stop();
  }
}

/** One POST with node:http on a keep-alive agent; resolves with the parsed answer. */
function rawChat(agent: http.Agent, url: URL, body: string): Promise<unknown> {
  return new Promise((resolvePromise, reject) => {
    const request = http.request(
      {
        agent,
        hostname: url.hostname,
        port: url.port,
        path: '/api/chat',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
            resolvePromise(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (error) {
            reject(error);
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** `concurrency` workers over the lines, each awaiting `send` per line; wall time and own CPU. */
async function loop(
  text: string,
  emulator: EmulatorProcess,
  options: OverheadOptions,
  what: string,
  send: (line: BatchInputLine) => Promise<unknown>,
) {
  const lines = text.split('\n').filter((line) => line !== '');
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < lines.length) {
      const line = JSON.parse(lines[next++]!) as BatchInputLine;
      try {
        await send(line);
      } catch {
        failed++;
      }
    }
  };
  const cpuBefore = process.cpuUsage();
  const emulatorBefore = cpuMs(emulator.child.pid!);
  const started = performance.now();
  await withDeadline(
    Promise.all(Array.from({ length: options.concurrency }, worker)),
    60_000 + options.lines * 5,
    `${what} of ${options.lines} requests`,
  );
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const emulatorCpu = cpuMs(emulator.child.pid!) - emulatorBefore;
  if (failed > 0) throw new Error(`${what}: ${failed} of ${lines.length} requests failed: the figures would be wrong`);
  return {
    wallMs,
    requestsPerSecond: (lines.length * 1000) / wallMs,
    cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / lines.length,
    emulatorCpuMsPerRequest: emulatorCpu / lines.length,
    failed,
  };
}

function runDirect(
  text: string,
  emulator: EmulatorProcess,
  options: OverheadOptions,
): Promise<OverheadResult['direct']> {
  const client = new Ollama({ host: emulator.url });
  return loop(text, emulator, options, 'the ollama client loop', (line) => client.chat(ollamaRequest(line)));
}

async function runRaw(
  text: string,
  emulator: EmulatorProcess,
  options: OverheadOptions,
): Promise<OverheadResult['raw']> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const url = new URL(emulator.url);
  try {
    return await loop(text, emulator, options, 'the node:http loop', (line) =>
      rawChat(agent, url, JSON.stringify(ollamaRequest(line))),
    );
  } finally {
    agent.destroy();
  }
}

/** A fresh emulator and a fresh daemon for one size, then the direct loops on the same emulator. */
export async function measureOverhead(options: OverheadOptions): Promise<OverheadResult> {
  const work = scratchDir();
  const emulator = await startInstantEmulator(options.parallel);
  try {
    const text = batchLines(options.lines, { model: 'instant', maxTokens: 16 });
    const inputPath = join(work, `batch-${options.lines}.jsonl`);
    writeFileSync(inputPath, text);
    // Warm the emulator's JIT first, so that the daemon (measured first) does not pay for it.
    const warmLines = Math.min(WARM_LINES, options.lines);
    await runRaw(batchLines(warmLines, { model: 'instant', maxTokens: 16, prefix: 'warm' }), emulator, {
      ...options,
      lines: warmLines,
    });
    const daemon = await runDaemon(inputPath, emulator, options, work);
    const direct = await runDirect(text, emulator, options);
    const raw = await runRaw(text, emulator, options);
    return { lines: options.lines, concurrency: options.concurrency, daemon, direct, raw };
  } finally {
    await emulator.stop();
    removeScratchDir(work);
  }
}

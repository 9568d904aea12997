// Figure 3, the HTTP API under load, against the real daemon (a child process, engine ollama):
//   a. upload: a large batch JSONL file uploaded with the official `openai` client
//      (`files.create` with a read stream) to a fresh daemon: MB/s, and the daemon's peak RSS
//      against its idle RSS (the upload must stream to disk, never sit in memory). Baseline: the
//      same file POSTed with plain node:http to a sink server in its own node process that pipes
//      the body to a file on the same disk: the same bytes over the same loopback onto the same
//      disk, minus the openai client's multipart encoding, busboy and the daemon's bookkeeping.
//   b. polling: 50 clients polling GET /v1/batches/{id} while a batch runs; poll latency, and
//      the batch's throughput with the polls against windows without them, in the same batch.
//
// Why the polling figure is built the way it is. With emulator latency, the batch would be bound
// by that latency (concurrency / latency), the daemon would idle between answers and polls would
// fit in its idle time: a ratio of 1.0 that proves nothing. So the emulator answers instantly
// (no latency) and the batch runs as fast as the daemon and the emulator can go, as in the
// orchestration figure; the batch is sized from the warm-up batch's rate so that it outlasts
// every window (it is cancelled at the end). Throughput is the completed-count delta of
// request_counts over each window. Windows alternate without and with polls inside the same
// batch and daemon (none, paced, none, back-to-back, none); the baseline of a polled window is
// the mean of the two quiet windows around it, which cancels slow drift over the batch.
// Two polling loads, because "50 clients polling" means two different things:
//   - paced: each client polls again POLL_INTERVAL_MS after its previous answer, as a dashboard
//     or a script with a short sleep does (≈ 50 / interval polls per second); this is the row
//     with the < 5 % slowdown target;
//   - back-to-back: each client polls again as soon as it has the answer (a closed loop, as many
//     polls as the daemon can answer). On a machine whose cores are already saturated by the
//     batch (daemon + emulator + this process), every poll's CPU comes out of the batch, so its
//     throughput ratio measures how the daemon's single event loop splits its time between the
//     batch and an unbounded number of polls; it is reported with its latency, and its
//     throughput is printed below the table, not held to the 5 % target.
// The pollers are plain node:http keep-alive clients (one socket each) that parse every answer:
// the openai client's `batches.retrieve` (fetch/undici) costs several times the CPU per poll in
// this process, which shares the cores with the daemon and would slow the batch by itself.
import { once } from 'node:events';
import { createReadStream, createWriteStream, statSync, writeFileSync } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { Batch } from '../../server/openai/types.js';
import * as protocol from '../../server/protocol/methods.js';
import { batchLines, requestLine } from '../support/batch-files.js';
import { isFinished, submit, waitForBatch } from '../support/daemon-process.js';
import { removeScratchDir, scratchDir, spawnUntil, startDaemonChild, startInstantEmulator, stopChild, type DaemonChild } from './children.js';
import { cpuMs, memory, RssSampler } from './proc.js';
import { withDeadline } from './time.js';

const MB = 1024 * 1024;
const WARM_LINES = 5_000;
const CONCURRENCY = 32;
const EMULATOR_PARALLEL = 64;
/** Let the batch reach its pace after `in_progress` before the first window opens. */
const SETTLE_MS = 2_000;
const GAP_MS = 500;

// ---- a. upload

export interface UploadOptions {
  /** Size of the generated batch file. */
  bytes: number;
  /** Alternating rounds (daemon, sink); the best of each is reported. */
  rounds: number;
  profileDir?: string;
}

export interface UploadResult {
  fileBytes: number;
  lines: number;
  daemon: {
    /** Best round, MB/s (MB = 2^20 bytes). */
    megabytesPerSecond: number;
    rounds: number[];
    idleRssBytes: number;
    /** VmHWM at the end: the peak resident set over the daemon's whole life, uploads included. */
    peakRssBytes: number;
    polledPeakRssBytes: number;
    rssOutline: Array<[number, number]>;
    cpuMsPerMegabyte: number;
  };
  sink: { megabytesPerSecond: number; rounds: number[]; peakRssBytes: number; cpuMsPerMegabyte: number };
  /** fs.copyFile of the same file, for the disk's own pace. */
  copyMegabytesPerSecond: number;
}

/** Streams batch lines into `path` until it holds `limit.bytes` or `limit.lines`; never the whole text in memory. */
async function writeBatchFile(path: string, limit: { bytes?: number; lines?: number }): Promise<{ bytes: number; lines: number }> {
  const maxBytes = limit.bytes ?? Infinity;
  const maxLines = limit.lines ?? Infinity;
  const out = createWriteStream(path);
  let written = 0;
  let lines = 0;
  while (written < maxBytes && lines < maxLines) {
    let chunk = '';
    for (let i = 0; i < 1000 && written + chunk.length < maxBytes && lines < maxLines; i++) {
      chunk += JSON.stringify(requestLine(++lines, { model: 'instant', maxTokens: 16 })) + '\n';
    }
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { bytes: statSync(path).size, lines };
}

/** A node:http server in its own process that pipes every request body to a file; answers {bytes}. */
async function startSink(dir: string) {
  const script = `
const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
let n = 0;
http.createServer((request, response) => {
  const out = fs.createWriteStream(path.join(process.argv[1], 'sink-' + n++ + '.bin'));
  let bytes = 0;
  request.on('data', (chunk) => (bytes += chunk.length));
  request.pipe(out).on('finish', () => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes })));
}).listen(0, '127.0.0.1', function () { console.log('sink listening on http://127.0.0.1:' + this.address().port); });`;
  const { child, line } = await spawnUntil(['-e', script, dir], 'sink listening on ', 'the upload sink');
  return { child, url: new URL(/listening on (\S+)/.exec(line)![1]!), stop: () => stopChild(child) };
}

function postFile(url: URL, path: string, bytes: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const request = http.request(
      { hostname: url.hostname, port: url.port, path: '/upload', method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': bytes } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            resolvePromise((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { bytes: number }).bytes);
          } catch (error) {
            reject(error);
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    createReadStream(path).on('error', reject).pipe(request);
  });
}

async function daemonHttp(daemon: DaemonChild): Promise<string> {
  return (await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type)).http;
}

export async function measureUpload(options: UploadOptions): Promise<UploadResult> {
  const work = scratchDir();
  try {
    const path = join(work, 'upload.jsonl');
    const { bytes, lines } = await writeBatchFile(path, { bytes: options.bytes });
    const megabytes = bytes / MB;
    const nodeArgs = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
    const daemon = await startDaemonChild(join(work, 'data'), ['--engine', 'ollama', '--ollama-url', 'http://127.0.0.1:9'], nodeArgs);
    const sink = await startSink(work);
    try {
      const client = new OpenAI({ baseURL: `${await daemonHttp(daemon)}/v1`, apiKey: 'none', maxRetries: 0, timeout: 600_000 });
      const idleRssBytes = memory(daemon.pid).rss;
      const sampler = new RssSampler(daemon.pid, 20);
      const daemonRounds: number[] = [];
      const sinkRounds: number[] = [];
      let daemonCpu = 0;
      let sinkCpu = 0;
      for (let round = 0; round < options.rounds; round++) {
        let cpuBefore = cpuMs(daemon.pid);
        let started = performance.now();
        const file = await withDeadline(client.files.create({ file: createReadStream(path), purpose: 'batch' }), 600_000, `uploading ${megabytes.toFixed(0)} MB to the daemon`);
        daemonRounds.push(megabytes / ((performance.now() - started) / 1000));
        daemonCpu += cpuMs(daemon.pid) - cpuBefore;
        if (file.bytes !== bytes) throw new Error(`the daemon stored ${file.bytes} of ${bytes} bytes: the figure would be wrong`);
        await client.files.delete(file.id);

        cpuBefore = cpuMs(sink.child.pid!);
        started = performance.now();
        const received = await withDeadline(postFile(sink.url, path, bytes), 600_000, `posting ${megabytes.toFixed(0)} MB to the sink`);
        sinkRounds.push(megabytes / ((performance.now() - started) / 1000));
        sinkCpu += cpuMs(sink.child.pid!) - cpuBefore;
        if (received !== bytes) throw new Error(`the sink received ${received} of ${bytes} bytes`);
        await rm(join(work, `sink-${round}.bin`), { force: true });
      }
      const polled = sampler.stop();
      const peakRssBytes = memory(daemon.pid).peak;
      const copyStarted = performance.now();
      await copyFile(path, join(work, 'copy.jsonl'));
      const copyMegabytesPerSecond = megabytes / ((performance.now() - copyStarted) / 1000);
      return {
        fileBytes: bytes,
        lines,
        daemon: {
          megabytesPerSecond: Math.max(...daemonRounds),
          rounds: daemonRounds,
          idleRssBytes,
          peakRssBytes,
          polledPeakRssBytes: polled,
          rssOutline: sampler.outline(),
          cpuMsPerMegabyte: daemonCpu / (megabytes * options.rounds),
        },
        sink: { megabytesPerSecond: Math.max(...sinkRounds), rounds: sinkRounds, peakRssBytes: memory(sink.child.pid!).peak, cpuMsPerMegabyte: sinkCpu / (megabytes * options.rounds) },
        copyMegabytesPerSecond,
      };
    } finally {
      await sink.stop();
      await daemon.stop();
    }
  } finally {
    removeScratchDir(work);
  }
}

// ---- b. polling

export interface PollingOptions {
  clients: number;
  windowMs: number;
  /** Pause of a paced client between an answer and its next poll. */
  intervalMs: number;
  profileDir?: string;
}

export type PollMode = 'none' | 'paced' | 'back-to-back';

export interface PollWindow {
  mode: PollMode;
  wallMs: number;
  completed: number;
  requestsPerSecond: number;
  polls: number;
  pollsPerSecond: number;
  pollFailures: number;
  /** Poll latency percentiles, ms (0 without polls). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU over the window, ms per second of wall time (1000 = one core busy). */
  daemonCpu: number;
  emulatorCpu: number;
  benchCpu: number;
}

export interface PollingResult {
  clients: number;
  intervalMs: number;
  lines: number;
  windows: PollWindow[];
  paced: PolledFigure;
  backToBack: PolledFigure;
}

export interface PolledFigure {
  window: PollWindow;
  /** Mean throughput of the quiet windows before and after. */
  quietRequestsPerSecond: number;
  ratio: number;
}

function percentile(sorted: readonly number[], share: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)]!;
}

function getJson(agent: http.Agent, url: URL): Promise<Batch> {
  return new Promise((resolvePromise, reject) => {
    const request = http.get({ agent, hostname: url.hostname, port: url.port, path: url.pathname }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        try {
          if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
          resolvePromise(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Batch);
        } catch (error) {
          reject(error);
        }
      });
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/** `clients` loops polling `url` until stop(); each keeps its own keep-alive socket. */
function startPollers(url: URL, clients: number, intervalMs: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let failures = 0;
  let stopping = false;
  let wake: Array<() => void> = [];
  const pause = (ms: number): Promise<void> =>
    new Promise((resolvePromise) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        wake = wake.filter((each) => each !== done);
        resolvePromise();
      }
      wake.push(done);
    });
  const client = async (index: number): Promise<void> => {
    // Spread the paced clients over one interval, so they do not poll in lockstep.
    if (intervalMs > 0) await pause((intervalMs * index) / clients);
    while (!stopping) {
      const started = performance.now();
      try {
        const batch = await getJson(agent, url);
        if (typeof batch.request_counts?.completed !== 'number') throw new Error('no request_counts');
        latencies.push(performance.now() - started);
      } catch {
        failures++;
      }
      if (intervalMs > 0 && !stopping) await pause(intervalMs);
    }
  };
  const running = Promise.all(Array.from({ length: clients }, (_, index) => client(index)));
  return {
    async stop() {
      stopping = true;
      for (const done of [...wake]) done();
      await withDeadline(running, 30_000, 'the pollers');
      agent.destroy();
      return { latencies, failures };
    },
  };
}

export async function measurePolling(options: PollingOptions): Promise<PollingResult> {
  const work = scratchDir();
  const emulator = await startInstantEmulator(EMULATOR_PARALLEL);
  const nodeArgs = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  let daemon: DaemonChild | undefined;
  let batchId: string | undefined;
  try {
    daemon = await startDaemonChild(join(work, 'data'), ['--engine', 'ollama', '--ollama-url', emulator.url, '--concurrency', String(CONCURRENCY)], nodeArgs);
    const { connection } = daemon;
    const base = await daemonHttp(daemon);

    // Warm the emulator's and the daemon's JIT, and learn the batch's pace to size the real one.
    const warmPath = join(work, 'warm.jsonl');
    writeFileSync(warmPath, batchLines(WARM_LINES, { model: 'instant', maxTokens: 16, prefix: 'warm' }));
    const warm = await submit(connection, warmPath);
    const inProgress = await withDeadline(waitForBatch(connection, warm.id, (batch) => batch.status !== 'validating'), 60_000, 'the warm-up batch\'s validation');
    const warmStarted = performance.now();
    const warmed = await withDeadline(waitForBatch(connection, warm.id, isFinished), 120_000, 'the warm-up batch');
    if (warmed.status !== 'completed' || inProgress.status === 'failed') throw new Error(`the warm-up batch ended ${warmed.status}: ${JSON.stringify(warmed.errors)}\n${daemon.log()}`);
    const warmRate = (WARM_LINES * 1000) / (performance.now() - warmStarted);

    const modes: PollMode[] = ['none', 'paced', 'none', 'back-to-back', 'none'];
    const runSeconds = (SETTLE_MS + modes.length * (options.windowMs + GAP_MS)) / 1000;
    // Twice what the warm-up's pace needs (the warm-up includes its own start), at least 20,000.
    const lines = Math.max(20_000, Math.ceil((warmRate * runSeconds * 2) / 1000) * 1000);
    const inputPath = join(work, 'batch.jsonl');
    await writeBatchFile(inputPath, { lines });
    const created = await submit(connection, inputPath);
    batchId = created.id;
    const running = await withDeadline(waitForBatch(connection, created.id, (batch) => batch.status !== 'validating'), 120_000, `validating ${lines} lines`);
    if (running.status !== 'in_progress') throw new Error(`the batch is ${running.status}: ${JSON.stringify(running.errors)}\n${daemon.log()}`);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, SETTLE_MS));

    const pollUrl = new URL(`${base}/v1/batches/${created.id}`);
    const counts = async (): Promise<Batch> => connection.sendRequest(protocol.BatchGetRequest.type, { id: created.id });
    const windows: PollWindow[] = [];
    for (const mode of modes) {
      const daemonBefore = cpuMs(daemon.pid);
      const emulatorBefore = cpuMs(emulator.child.pid!);
      const benchBefore = process.cpuUsage();
      const before = await counts();
      const started = performance.now();
      const pollers = mode === 'none' ? null : startPollers(pollUrl, options.clients, mode === 'paced' ? options.intervalMs : 0);
      await new Promise((resolvePromise) => setTimeout(resolvePromise, options.windowMs));
      const after = await counts();
      const wallMs = performance.now() - started;
      const { latencies, failures } = pollers ? await pollers.stop() : { latencies: [], failures: 0 };
      const bench = process.cpuUsage(benchBefore);
      const perSecond = (ms: number): number => (ms * 1000) / wallMs;
      if (after.status !== 'in_progress' || after.request_counts.completed >= after.request_counts.total) {
        throw new Error(`the batch of ${lines} lines ended (${after.status}) before the ${mode} window did: the figures would be wrong`);
      }
      const completed = after.request_counts.completed - before.request_counts.completed;
      latencies.sort((a, b) => a - b);
      windows.push({
        mode,
        wallMs,
        completed,
        requestsPerSecond: perSecond(completed),
        polls: latencies.length,
        pollsPerSecond: perSecond(latencies.length),
        pollFailures: failures,
        p50Ms: percentile(latencies, 0.5),
        p99Ms: percentile(latencies, 0.99),
        maxMs: latencies.at(-1) ?? 0,
        daemonCpu: perSecond(cpuMs(daemon.pid) - daemonBefore),
        emulatorCpu: perSecond(cpuMs(emulator.child.pid!) - emulatorBefore),
        benchCpu: perSecond((bench.user + bench.system) / 1000),
      });
      if (failures > 0) throw new Error(`${failures} ${mode} polls failed: the figures would be wrong\n${daemon.log()}`);
      await new Promise((resolvePromise) => setTimeout(resolvePromise, GAP_MS));
    }
    const polled = (index: number): PolledFigure => {
      const quiet = (windows[index - 1]!.requestsPerSecond + windows[index + 1]!.requestsPerSecond) / 2;
      return { window: windows[index]!, quietRequestsPerSecond: quiet, ratio: windows[index]!.requestsPerSecond / quiet };
    };
    return { clients: options.clients, intervalMs: options.intervalMs, lines, windows, paced: polled(1), backToBack: polled(3) };
  } finally {
    if (daemon) {
      if (batchId) await daemon.connection.sendRequest(protocol.BatchCancelRequest.type, { id: batchId }).catch(() => undefined);
      await daemon.stop();
    }
    await emulator.stop();
    removeScratchDir(work);
  }
}

// Figure 3, the HTTP API under load, against the real daemon (a child process, engine ollama):
//   a. upload: a large batch JSONL file, generated on disk, uploaded with the official `openai`
//      client (`files.create` with the file as a file-backed Blob, fs.openAsBlob) to a fresh
//      daemon: MB/s, and the daemon's peak RSS (VmHWM) against its idle RSS (the upload must
//      stream to disk, never sit in memory). Not a read stream: openai 6.x (the last release for
//      Node 20) encodes one at about 30 MB/s here, 30 ms of the client's CPU per MB, which would
//      measure the client; a Blob goes at about 100 MB/s.
//      Baseline: the same file POSTed with plain node:http to a sink server in its own node
//      process that pipes the body to a file on the same disk (the same bytes over the same
//      loopback onto the same disk, minus the openai client's multipart encoding, busboy and the
//      daemon's bookkeeping); fs.copyFile of the file is printed too, as the disk's own pace.
//   b. polling: 50 clients polling GET /v1/batches/{id} while a batch runs: poll latency, and
//      the batch's throughput with the polls against quiet windows of the same batch.
//
// How the polling figure is built, and why:
// - Two engines. With emulator latency (engineLatencyMs) the batch is bound by the engine, as
//   with a real model, and the polls must fit into the daemon's time between answers: the target
//   case. With an instant emulator the batch goes as fast as the daemon can drive it, as in the
//   orchestration figure, and every poll's cost comes out of the batch: the stress case, which
//   shows what a poll costs. The batch is sized from the warm-up batch's best pace to outlast
//   every window, and cancelled at the end.
// - On a small machine the daemon, the emulator and the pollers share the cores, and then the
//   pollers' own CPU (and the scheduler's choices) would slow the batch as much as the daemon's
//   work for the polls does. So (Linux, taskset, 2+ CPUs) the daemon is pinned to one CPU and
//   the emulator, the pollers and this process to the others: the daemon's CPU is saturated by
//   the batch in every window, and what the polls take, they take from the batch. The pollers
//   are not niced: a niced poller on a CPU shared with the emulator measures its own starvation.
// - Throughput is the completed-count delta of request_counts over a window. Windows alternate
//   quiet / paced / quiet / back-to-back / quiet ... in one batch on one daemon, and each polled
//   window is compared with the mean of its two quiet neighbours, which cancels drift over the
//   batch; the polled time of each load is split into several windows for the same reason.
// - Two loads, because "50 clients polling" means two things: paced, each client polls again
//   POLL_INTERVAL_MS after its previous answer (a dashboard, a script with a short sleep);
//   back-to-back, each client polls again as soon as it has the answer (a closed loop: as many
//   polls as the daemon answers). The pollers are plain node:http keep-alive clients (one socket
//   each, each answer parsed) in their own processes (poller.ts): the openai client's
//   `batches.retrieve` (fetch) would cost the clients several times the CPU per poll.
// - Last, with the batch cancelled, what one back-to-back poll costs the daemon in CPU against
//   a bare node:http server sending the same bytes (the floor of a poll).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, openAsBlob, statSync, writeFileSync } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import type { Batch } from '../../server/protocol/openai.js';
import * as protocol from '../../server/protocol/methods.js';
import { batchLines, requestLine } from '../support/batch-files.js';
import { isFinished, submit, waitForBatch } from '../support/daemon-process.js';
import {
  removeScratchDir,
  repoRoot,
  scratchDir,
  spawnUntil,
  startDaemonChild,
  startInstantEmulator,
  stopChild,
  type DaemonChild,
} from './children.js';
import { cpuMs, memory, RssSampler, threadCpuMs } from './proc.js';
import { withDeadline } from './time.js';

const MB = 1024 * 1024;
const WARM_LINES = 30_000;
const CONCURRENCY = 32;
const EMULATOR_PARALLEL = 64;
/** Let the batch reach its pace after `in_progress` before the first window opens. */
const SETTLE_MS = 2_000;
const GAP_MS = 500;
/**
 * This machine's pace changes gear now and then (seen: the batch at ~130 and at ~250 µs of
 * daemon CPU per request, a bare node:http server at 32 and at 52 µs per poll, in different
 * runs, and once from one window to the next); a polled window whose two quiet neighbours differ
 * by more than this share has no baseline and is left out of the throughput figures (unless
 * every window of its load would be).
 */
const STEP_LIMIT = 0.15;

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
    /** CPU of this process (the openai client) per MB uploaded. */
    clientCpuMsPerMegabyte: number;
  };
  sink: {
    megabytesPerSecond: number;
    rounds: number[];
    peakRssBytes: number;
    cpuMsPerMegabyte: number;
    clientCpuMsPerMegabyte: number;
  };
  /** fs.copyFile of the same file, for the disk's own pace. */
  copyMegabytesPerSecond: number;
}

/** Streams batch lines into `path` until it holds `limit.bytes` or `limit.lines`; never the whole text in memory. */
async function writeBatchFile(
  path: string,
  limit: { bytes?: number; lines?: number },
): Promise<{ bytes: number; lines: number }> {
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
      {
        hostname: url.hostname,
        port: url.port,
        path: '/upload',
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'content-length': bytes },
      },
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
    const daemon = await startDaemonChild(
      join(work, 'data'),
      ['--engine', 'ollama', '--ollama-url', 'http://127.0.0.1:9'],
      nodeArgs,
    );
    const sink = await startSink(work);
    try {
      const client = new OpenAI({
        baseURL: `${await daemonHttp(daemon)}/v1`,
        apiKey: 'none',
        maxRetries: 0,
        timeout: 600_000,
      });
      const idleRssBytes = memory(daemon.pid).rss;
      const sampler = new RssSampler(daemon.pid, 20);
      const daemonRounds: number[] = [];
      const sinkRounds: number[] = [];
      let daemonCpu = 0;
      let sinkCpu = 0;
      let daemonClientCpu = 0;
      let sinkClientCpu = 0;
      const clientCpu = (since: NodeJS.CpuUsage): number => {
        const used = process.cpuUsage(since);
        return (used.user + used.system) / 1000;
      };
      for (let round = 0; round < options.rounds; round++) {
        let cpuBefore = cpuMs(daemon.pid);
        let clientBefore = process.cpuUsage();
        let started = performance.now();
        const upload = await toFile(await openAsBlob(path), 'upload.jsonl');
        const file = await withDeadline(
          client.files.create({ file: upload, purpose: 'batch' }),
          600_000,
          `uploading ${megabytes.toFixed(0)} MB to the daemon`,
        );
        daemonRounds.push(megabytes / ((performance.now() - started) / 1000));
        daemonCpu += cpuMs(daemon.pid) - cpuBefore;
        daemonClientCpu += clientCpu(clientBefore);
        if (file.bytes !== bytes)
          throw new Error(`the daemon stored ${file.bytes} of ${bytes} bytes: the figure would be wrong`);
        await client.files.delete(file.id);

        cpuBefore = cpuMs(sink.child.pid!);
        clientBefore = process.cpuUsage();
        started = performance.now();
        const received = await withDeadline(
          postFile(sink.url, path, bytes),
          600_000,
          `posting ${megabytes.toFixed(0)} MB to the sink`,
        );
        sinkRounds.push(megabytes / ((performance.now() - started) / 1000));
        sinkCpu += cpuMs(sink.child.pid!) - cpuBefore;
        sinkClientCpu += clientCpu(clientBefore);
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
          clientCpuMsPerMegabyte: daemonClientCpu / (megabytes * options.rounds),
        },
        sink: {
          megabytesPerSecond: Math.max(...sinkRounds),
          rounds: sinkRounds,
          peakRssBytes: memory(sink.child.pid!).peak,
          cpuMsPerMegabyte: sinkCpu / (megabytes * options.rounds),
          clientCpuMsPerMegabyte: sinkClientCpu / (megabytes * options.rounds),
        },
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
  /** Polled time per load (paced, back-to-back), split into `chunks` windows. */
  windowMs: number;
  chunks: number;
  /** Pause of a paced client between an answer and its next poll. */
  intervalMs: number;
  /** How long each side of the per-poll CPU comparison polls (daemon, then the bare server); 0 skips it. */
  floorMs: number;
  /**
   * How long the emulator takes per request. 0 (instant): the batch is bound by the daemon's
   * event loop, the worst case for polls. Above 0 the engine bounds the batch, as a GPU does.
   */
  engineLatencyMs: number;
  /** Pin the daemon to one CPU and everything else to the others (Linux, taskset, ≥ 2 CPUs). */
  pin: boolean;
  profileDir?: string;
}

export type PollMode = 'none' | 'paced' | 'back-to-back';

export interface PollWindow {
  mode: PollMode;
  wallMs: number;
  completed: number;
  requestsPerSecond: number;
  polls: number;
  /** CPU over the window, ms per second of wall time (1000 = one core busy). */
  daemonCpu: number;
  /** The daemon's main thread (its event loop), user and system. */
  daemonMainUser: number;
  daemonMainSystem: number;
  emulatorCpu: number;
  pollerCpu: number;
}

export interface PolledLoad {
  mode: Exclude<PollMode, 'none'>;
  /** Over all the windows of this load. */
  polls: number;
  pollsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The batch's pace during this load's windows. */
  requestsPerSecond: number;
  /** The batch's pace expected without polls: each window's quiet neighbours, averaged, weighted by its length. */
  quietRequestsPerSecond: number;
  ratio: number;
  /** Windows of this load left out of the throughput figures: their quiet neighbours differ by more than STEP_LIMIT. */
  excludedWindows: number;
  windowCount: number;
  /** Batch work the polls displaced, in daemon CPU µs per poll (lost requests × daemon CPU per request in the quiet windows / polls). */
  displacedUsPerPoll: number;
  pollerCpuMsPerPoll: number;
}

export interface PollingResult {
  clients: number;
  intervalMs: number;
  engineLatencyMs: number;
  lines: number;
  /** The CPUs the daemon and the others were pinned to, or null when not pinned. */
  pinned: { daemon: string; others: string } | null;
  /** Daemon CPU per batch request in the quiet windows, ms. */
  daemonCpuMsPerRequest: number;
  windows: PollWindow[];
  paced: PolledLoad;
  backToBack: PolledLoad;
  /**
   * CPU per poll with the batch cancelled, back-to-back polls of the same answer: the daemon
   * against a bare node:http server in its own process that sends the same bytes (the floor).
   */
  perPoll: {
    daemonUs: number;
    daemonPollsPerSecond: number;
    floorUs: number;
    floorPollsPerSecond: number;
    answerBytes: number;
  } | null;
}

const POLLER_MAIN = join(repoRoot, 'test', 'bench', 'poller.ts');

/** CPUs this process may run on, from taskset (null when taskset is missing). */
function ownCpus(): number[] | null {
  try {
    const list = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' })
      .split(':')
      .at(-1)!
      .trim();
    return list.split(',').flatMap((part) => {
      const [from, to] = part.split('-').map(Number);
      return Array.from({ length: (to ?? from!) - from! + 1 }, (_, i) => from! + i);
    });
  } catch {
    return null;
  }
}

/** Pins every thread of `pid` to the CPU list (e.g. "1-3"); threads made later inherit it. */
function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { stdio: 'ignore' });
}

interface Poller {
  child: ChildProcess;
  start(url: string): void;
  stop(): Promise<{ polls: number; failures: number; cpuMs: number }>;
  report(): Promise<{ polls: number; p50Ms: number; p99Ms: number; maxMs: number }>;
}

async function startPoller(clients: number, intervalMs: number): Promise<Poller> {
  const waiting = new Map<string, (json: string) => void>();
  const onLine = (line: string): void => {
    const space = line.indexOf(' ');
    const answer = waiting.get(line.slice(0, space));
    if (!answer) return;
    waiting.delete(line.slice(0, space));
    answer(line.slice(space + 1));
  };
  const args = ['--import', 'tsx', POLLER_MAIN, '--clients', String(clients), '--interval-ms', String(intervalMs)];
  const { child, log } = await spawnUntil(args, 'poller ready', 'the poller', { stdin: true, onLine });
  const ask = async <T>(command: string, answer: string): Promise<T> => {
    const json = new Promise<string>((resolvePromise) => waiting.set(answer, resolvePromise));
    child.stdin!.write(`${command}\n`);
    return JSON.parse(await withDeadline(json, 30_000, `the poller's answer to ${command}\n${log()}`)) as T;
  };
  return {
    child,
    start: (url) => void child.stdin!.write(`start ${url}\n`),
    stop: () => ask('stop', 'stopped'),
    report: () => ask('report', 'report'),
  };
}

/** The floor of a poll: node:http in its own process answering every request with one file's bytes, as sendJson does. */
async function startFloorServer(answerPath: string) {
  const script = `
const http = require('node:http');
const body = require('node:fs').readFileSync(process.argv[1], 'utf8');
http.createServer((request, response) => {
  response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}).listen(0, '127.0.0.1', function () { console.log('floor listening on http://127.0.0.1:' + this.address().port); });`;
  const { child, line } = await spawnUntil(
    ['-e', script, answerPath],
    'floor listening on ',
    'the bare node:http server',
  );
  return { child, url: /listening on (\S+)/.exec(line)![1]! };
}

const sleep = (ms: number): Promise<void> => new Promise((resolvePromise) => setTimeout(resolvePromise, ms));

export async function measurePolling(options: PollingOptions): Promise<PollingResult> {
  const work = scratchDir();
  const cpus = options.pin ? ownCpus() : null;
  let pinned = cpus && cpus.length >= 2 ? { daemon: String(cpus[0]), others: cpus.slice(1).join(',') } : null;
  const restoreCpus = cpus?.join(',');
  const emulator = await startInstantEmulator(EMULATOR_PARALLEL, options.engineLatencyMs);
  // A slow engine needs fewer lines to warm the daemon's JIT and show its pace.
  const warmLines = options.engineLatencyMs > 0 ? 3_000 : WARM_LINES;
  const nodeArgs = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  let daemon: DaemonChild | undefined;
  const pollers: Poller[] = [];
  let batchId: string | undefined;
  try {
    daemon = await startDaemonChild(
      join(work, 'data'),
      ['--engine', 'ollama', '--ollama-url', emulator.url, '--concurrency', String(CONCURRENCY)],
      nodeArgs,
    );
    const { connection } = daemon;
    const base = await daemonHttp(daemon);
    const byMode = {
      paced: await startPoller(options.clients, options.intervalMs),
      'back-to-back': await startPoller(options.clients, 0),
    };
    pollers.push(byMode.paced, byMode['back-to-back']);
    if (pinned) {
      const pids = [emulator.child.pid!, process.pid, ...pollers.map((poller) => poller.child.pid!)];
      try {
        pin(daemon.pid, pinned.daemon);
        for (const pid of pids) pin(pid, pinned.others);
      } catch (error) {
        console.error(`  could not pin the processes (${(error as Error).message.split('\n')[0]}); measuring unpinned`);
        for (const pid of [daemon.pid, ...pids]) {
          try {
            pin(pid, restoreCpus!);
          } catch {
            // best effort
          }
        }
        pinned = null;
      }
    }

    // Warm the emulator's and the daemon's JIT, and learn the batch's pace to size the real one.
    const warmPath = join(work, 'warm.jsonl');
    writeFileSync(warmPath, batchLines(warmLines, { model: 'instant', maxTokens: 16, prefix: 'warm' }));
    const warm = await submit(connection, warmPath);
    await withDeadline(
      waitForBatch(connection, warm.id, (batch) => batch.status !== 'validating'),
      60_000,
      "the warm-up batch's validation",
    );
    // Its best pace over one second (it starts slow, while the JIT warms), sampled every 250 ms.
    const samples: Array<[number, number]> = [];
    let warmed: Batch;
    for (;;) {
      warmed = await connection.sendRequest(protocol.BatchGetRequest.type, { id: warm.id });
      samples.push([performance.now(), warmed.request_counts.completed]);
      if (isFinished(warmed)) break;
      if (performance.now() - samples[0]![0] > 120_000)
        throw new Error('the warm-up batch did not finish within 120 s');
      await sleep(250);
    }
    if (warmed.status !== 'completed')
      throw new Error(`the warm-up batch ended ${warmed.status}: ${JSON.stringify(warmed.errors)}\n${daemon.log()}`);
    let warmRate = 0;
    for (let i = 0; i < samples.length; i++) {
      const j = samples.findIndex(([t]) => t >= samples[i]![0] + 1000);
      if (j > 0)
        warmRate = Math.max(warmRate, ((samples[j]![1] - samples[i]![1]) * 1000) / (samples[j]![0] - samples[i]![0]));
    }
    if (warmRate === 0) warmRate = (warmLines * 1000) / (samples.at(-1)![0] - samples[0]![0]);

    const chunkMs = options.windowMs / options.chunks;
    const modes: PollMode[] = ['none'];
    for (let chunk = 0; chunk < options.chunks; chunk++) modes.push('paced', 'none', 'back-to-back', 'none');
    const runSeconds = (SETTLE_MS + modes.length * (chunkMs + GAP_MS)) / 1000;
    // 1.5 times what the warm-up's pace needs, at least 20,000.
    const lines = Math.max(20_000, Math.ceil((warmRate * runSeconds * 1.5) / 1000) * 1000);
    const inputPath = join(work, 'batch.jsonl');
    await writeBatchFile(inputPath, { lines });
    const created = await submit(connection, inputPath);
    batchId = created.id;
    await rm(inputPath); // the daemon keeps its own copy
    const running = await withDeadline(
      waitForBatch(connection, created.id, (batch) => batch.status !== 'validating'),
      300_000,
      `validating ${lines} lines`,
    );
    if (running.status !== 'in_progress')
      throw new Error(`the batch is ${running.status}: ${JSON.stringify(running.errors)}\n${daemon.log()}`);

    const pollUrl = `${base}/v1/batches/${created.id}`;
    await sleep(SETTLE_MS);

    const counts = async (): Promise<Batch> =>
      connection.sendRequest(protocol.BatchGetRequest.type, { id: created.id });
    const windows: PollWindow[] = [];
    for (const mode of modes) {
      const poller = mode === 'none' ? null : byMode[mode];
      const daemonBefore = cpuMs(daemon.pid);
      const mainBefore = threadCpuMs(daemon.pid);
      const emulatorBefore = cpuMs(emulator.child.pid!);
      const before = await counts();
      const started = performance.now();
      poller?.start(pollUrl);
      await sleep(chunkMs);
      const after = await counts();
      const wallMs = performance.now() - started;
      const daemonCpu = cpuMs(daemon.pid) - daemonBefore;
      const main = threadCpuMs(daemon.pid);
      const emulatorCpu = cpuMs(emulator.child.pid!) - emulatorBefore;
      const stretch = poller ? await poller.stop() : { polls: 0, failures: 0, cpuMs: 0 };
      if (stretch.failures > 0)
        throw new Error(`${stretch.failures} ${mode} polls failed: the figures would be wrong\n${daemon.log()}`);
      if (after.status !== 'in_progress' || after.request_counts.completed >= after.request_counts.total) {
        throw new Error(
          `the batch of ${lines} lines ended (${after.status}) before the ${mode} window did: the figures would be wrong`,
        );
      }
      const completed = after.request_counts.completed - before.request_counts.completed;
      const perSecond = (value: number): number => (value * 1000) / wallMs;
      windows.push({
        mode,
        wallMs,
        completed,
        requestsPerSecond: perSecond(completed),
        polls: stretch.polls,
        daemonCpu: perSecond(daemonCpu),
        daemonMainUser: perSecond(main.user - mainBefore.user),
        daemonMainSystem: perSecond(main.system - mainBefore.system),
        emulatorCpu: perSecond(emulatorCpu),
        pollerCpu: perSecond(stretch.cpuMs),
      });
      await sleep(GAP_MS);
    }

    const quiet = windows.filter((window) => window.mode === 'none');
    const daemonCpuMsPerRequest =
      quiet.reduce((sum, w) => sum + (w.daemonCpu * w.wallMs) / 1000, 0) /
      quiet.reduce((sum, w) => sum + w.completed, 0);
    const load = async (mode: Exclude<PollMode, 'none'>): Promise<PolledLoad> => {
      let completed = 0;
      let expected = 0;
      let wallMs = 0;
      let polls = 0;
      let pollerCpuMs = 0;
      const ofMode = windows.flatMap((window, index) => (window.mode === mode ? [index] : []));
      const steady = ofMode.filter((index) => {
        const [before, after] = [windows[index - 1]!.requestsPerSecond, windows[index + 1]!.requestsPerSecond];
        return Math.abs(before - after) <= STEP_LIMIT * Math.max(before, after);
      });
      const counted = new Set(steady.length > 0 ? steady : ofMode);
      windows.forEach((window, index) => {
        if (!counted.has(index)) return;
        const around = (windows[index - 1]!.requestsPerSecond + windows[index + 1]!.requestsPerSecond) / 2;
        completed += window.completed;
        expected += (around * window.wallMs) / 1000;
        wallMs += window.wallMs;
        polls += window.polls;
        pollerCpuMs += (window.pollerCpu * window.wallMs) / 1000;
      });
      const latency = await byMode[mode].report();
      return {
        mode,
        polls,
        pollsPerSecond: (polls * 1000) / wallMs,
        p50Ms: latency.p50Ms,
        p99Ms: latency.p99Ms,
        maxMs: latency.maxMs,
        requestsPerSecond: (completed * 1000) / wallMs,
        quietRequestsPerSecond: (expected * 1000) / wallMs,
        ratio: completed / expected,
        excludedWindows: ofMode.length - counted.size,
        windowCount: ofMode.length,
        displacedUsPerPoll: ((expected - completed) * daemonCpuMsPerRequest * 1000) / polls,
        pollerCpuMsPerPoll: pollerCpuMs / polls,
      };
    };
    const paced = await load('paced');
    const backToBack = await load('back-to-back');

    await connection.sendRequest(protocol.BatchCancelRequest.type, { id: created.id });
    await withDeadline(waitForBatch(connection, created.id, isFinished), 60_000, 'cancelling the batch');
    const result = {
      clients: options.clients,
      intervalMs: options.intervalMs,
      engineLatencyMs: options.engineLatencyMs,
      lines,
      pinned,
      daemonCpuMsPerRequest,
      windows,
      paced,
      backToBack,
    };
    if (options.floorMs === 0) return { ...result, perPoll: null };

    // What one poll costs the daemon, against a bare node:http server sending the same bytes.
    const answer = await (await fetch(pollUrl)).text();
    const answerPath = join(work, 'answer.json');
    writeFileSync(answerPath, answer);
    const floor = await startFloorServer(answerPath);
    try {
      if (pinned) pin(floor.child.pid!, pinned.daemon);
      const perPoll = async (pid: number, url: string): Promise<[number, number]> => {
        const before = cpuMs(pid);
        const started = performance.now();
        byMode['back-to-back'].start(url);
        await sleep(options.floorMs);
        const cpu = cpuMs(pid) - before;
        const wallMs = performance.now() - started;
        const { polls, failures } = await byMode['back-to-back'].stop();
        if (failures > 0 || polls === 0) throw new Error(`${failures} of the polls of ${url} failed`);
        return [(cpu * 1000) / polls, (polls * 1000) / wallMs];
      };
      const [daemonUs, daemonPollsPerSecond] = await perPoll(daemon.pid, pollUrl);
      const [floorUs, floorPollsPerSecond] = await perPoll(floor.child.pid!, `${floor.url}/v1/batches/${created.id}`);
      return {
        ...result,
        perPoll: {
          daemonUs,
          daemonPollsPerSecond,
          floorUs,
          floorPollsPerSecond,
          answerBytes: Buffer.byteLength(answer),
        },
      };
    } finally {
      await stopChild(floor.child);
    }
  } finally {
    for (const poller of pollers) await stopChild(poller.child, 2000);
    if (restoreCpus) pin(process.pid, restoreCpus);
    if (daemon) {
      if (batchId)
        await daemon.connection.sendRequest(protocol.BatchCancelRequest.type, { id: batchId }).catch(() => undefined);
      await daemon.stop();
    }
    await emulator.stop();
    removeScratchDir(work);
  }
}

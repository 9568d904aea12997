// The polling load of the HTTP figure, in its own process (so that it can be pinned and niced
// apart from the benchmark): `clients` loops, each on its own keep-alive node:http socket, GET
// one URL and parse the answer. Paced (--interval-ms N) a client polls again N ms after its
// previous answer; back-to-back (0) at once.
//   node --import tsx test/bench/poller.ts --clients N --interval-ms N
// stdin commands, one a line: `start URL`; `stop` (answers `stopped {polls, failures, cpuMs}` for
// the stretch since `start`); `report` (answers `report {polls, p50Ms, p99Ms, maxMs}` over every
// stretch so far). Exits when stdin closes.
import http from 'node:http';
import { createInterface } from 'node:readline';
import { percentile } from './percentile.js';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { clients: { type: 'string' }, 'interval-ms': { type: 'string' } },
  strict: true,
});
const clients = Number(values.clients);
const intervalMs = Number(values['interval-ms']);

const latencies: number[] = [];
let stretchPolls = 0;
let failures = 0;
let stopping = true;
let running: Promise<unknown> = Promise.resolve();
let agent: http.Agent | undefined;
let cpuBefore = process.cpuUsage();
let wakers = new Set<() => void>();
let url = new URL('http://127.0.0.1/');

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      wakers.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    wakers.add(done);
  });
}

function poll(via: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.get({ agent: via, hostname: url.hostname, port: url.port, path: url.pathname }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        try {
          if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
          const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            request_counts?: { completed?: unknown };
          };
          if (typeof batch.request_counts?.completed !== 'number') throw new Error('no request_counts in the answer');
          resolve();
        } catch (error) {
          reject(error);
        }
      });
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

async function client(index: number, via: http.Agent): Promise<void> {
  // Paced clients start spread over one interval, so that they do not poll in lockstep.
  if (intervalMs > 0) await pause((intervalMs * index) / clients);
  while (!stopping) {
    const started = performance.now();
    try {
      await poll(via);
      latencies.push(performance.now() - started);
      stretchPolls++;
    } catch {
      failures++;
    }
    if (intervalMs > 0 && !stopping) await pause(intervalMs);
  }
}

const commands = createInterface({ input: process.stdin });
commands.on('line', (command) => {
  if (command.startsWith('start ') && stopping) {
    url = new URL(command.slice('start '.length));
    stopping = false;
    stretchPolls = 0;
    failures = 0;
    cpuBefore = process.cpuUsage();
    const via = (agent = new http.Agent({ keepAlive: true, maxSockets: clients }));
    running = Promise.all(Array.from({ length: clients }, (_, index) => client(index, via)));
  } else if (command === 'stop') {
    stopping = true;
    for (const wake of wakers) wake();
    wakers = new Set();
    void running.then(() => {
      const cpu = process.cpuUsage(cpuBefore);
      agent?.destroy();
      console.log(
        `stopped ${JSON.stringify({ polls: stretchPolls, failures, cpuMs: (cpu.user + cpu.system) / 1000 })}`,
      );
    });
  } else if (command === 'report') {
    console.log(
      `report ${JSON.stringify({ polls: latencies.length, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), maxMs: percentile(latencies, 1) })}`,
    );
  }
});
commands.on('close', () => process.exit(0));
console.log(`poller ready: ${clients} clients, interval ${intervalMs} ms`);

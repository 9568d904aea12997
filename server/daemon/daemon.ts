// Starting and stopping the daemon: lock, store, engine, batch service, socket.
import { chmodSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { BatchService } from '../batches/service.js';
import { CascadeLinker } from '../cascade/link.js';
import { VERSION } from '../common/version.js';
import { NodeLlamaCppMissingError } from '../engines/node-llama-cpp-module.js';
import type { Engine } from '../engines/engine.js';
import { OllamaEngine } from '../engines/ollama.js';
import type { EnginePool } from '../pool/pool.js';
import { EndpointMemory } from './endpoint-memory.js';
import { createEnginePool } from './engine-pool.js';
import { VramMonitor } from '../gpu/vram-monitor.js';
import type { DaemonInfo } from '../protocol/methods.js';
import { serveRpc } from '../rpc/server.js';
import { Store, StoreUnreadableError } from '../store/store.js';
import { startHttp, type RunningHttp } from '../http/server.js';
import { createMetrics } from '../metrics/metrics.js';
import { shownConfig, type DaemonConfig } from './config.js';
import { acquireLock, listenOnSocket, prepareSocketPath } from './lock.js';
import { log } from '../log/log.js';
import { EXIT_ENGINE_MISSING, EXIT_HTTP_PORT_IN_USE } from '../daemon-access/local-daemon.js';

/** A start that failed for a reason the user can fix: its message is all they need, its exit code tells the case. */
export class DaemonStartError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface RunningDaemon {
  socket: string;
  httpUrl: string;
  service: BatchService;
  engine: Engine;
  /** Resolves once the daemon has stopped (after close() or a shutdown request). */
  stopped: Promise<void>;
  /** `reason` goes to the log and to every client (daemon/stopping). */
  close(reason?: string): Promise<void>;
}

export async function startDaemon(config: DaemonConfig): Promise<RunningDaemon> {
  // Batches hold the user's data: the data dir and all the daemon keeps there are its user's
  // alone (0700 folders, 0600 files: each writer says so). Not by umask: what the daemon writes
  // for the user elsewhere (a converted JSONL, a scored CSV) keeps the user's own modes.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700); // one made before, by an older version or by hand
  const socket = prepareSocketPath(config.dataDir);
  const lock = await acquireLock(config.dataDir, socket);
  let pool: EnginePool | undefined;
  let httpServer: RunningHttp | undefined;
  let monitor: VramMonitor | undefined;
  let memory: EndpointMemory | undefined;
  try {
    const store = await Store.open(config.dataDir).catch((error: Error) => {
      throw error instanceof StoreUnreadableError ? new DaemonStartError(error.message) : error;
    });
    for (const path of await store.removeLeftovers())
      log('info', `removed ${path}: left by a crash, no record owns it`);
    // The engines batches run on: the configured endpoints, else one from the single-engine settings.
    const engines = (pool = await createEnginePool(config).catch((error: Error) => {
      throw error instanceof NodeLlamaCppMissingError
        ? new DaemonStartError(error.message, EXIT_ENGINE_MISSING)
        : error;
    }));
    const engine = engines.default.engine;
    const engineAt = engines.default.url;
    // This machine's GPUs, and the models of the Ollama on it (the pool's first such endpoint).
    const localOllama = engines.endpoints.find((endpoint) => endpoint.local && endpoint.engine instanceof OllamaEngine);
    const vram = (monitor = new VramMonitor({
      ...(config.nvidiaSmiPath && { nvidiaSmiPath: config.nvidiaSmiPath }),
      ...(config.vramPollMs && { intervalMs: config.vramPollMs }),
      ...(config.vramWarningShare && { warningShare: config.vramWarningShare }),
      ...(config.vramCriticalShare && { criticalShare: config.vramCriticalShare }),
      ...(localOllama && { source: localOllama.engine as OllamaEngine }),
    }));
    vram.on('pressure', (level, snapshot) =>
      log(
        level === 'normal' ? 'info' : 'warn',
        `VRAM pressure ${level}${snapshot.warnings.length > 0 ? `: ${snapshot.warnings.join('; ')}` : ''}`,
      ),
    );
    const service = new BatchService(store, engines, {
      concurrency: config.concurrency,
      numCtx: config.numCtx,
      ...(config.trimStrategy && { trimStrategy: config.trimStrategy }),
      ...(config.aggressiveFraction && { aggressiveFraction: config.aggressiveFraction }),
      ...(config.trimAllowCut && { trimAllowCut: true }),
      ...(config.mode && { mode: config.mode }),
      ...(config.trimEvery && { trimEvery: config.trimEvery }),
      ...(config.retryInvalid !== undefined && { retryInvalid: config.retryInvalid }),
      ...(config.pilotAnswers !== undefined && { pilotAnswers: config.pilotAnswers }),
      ...(config.pilotMaxInvalid !== undefined && { pilotMaxInvalid: config.pilotMaxInvalid }),
      // Limits learned after out-of-memory hold for the GPUs they were learned on.
      hardware: () =>
        vram
          .snapshot()
          ?.gpus?.map((gpu) => gpu.name)
          .join(' + ') || 'no GPU',
      vram: () => vram.pollNow(),
      ...(config.vramWarningShare && { vramWarningShare: config.vramWarningShare }),
      ...(config.requestTimeoutMs !== undefined && { requestTimeoutMs: config.requestTimeoutMs }),
      ...(config.maxAttempts !== undefined && { maxAttempts: config.maxAttempts }),
      ...(config.modelAliases && { modelAliases: config.modelAliases }),
    });
    vram.on('pressure', (level) => service.setPressure(level));
    vram.on('snapshot', (snapshot) => service.vramReading(snapshot));
    const endpointMemory = (memory = new EndpointMemory(engines, vram, log, config.vramPollMs));
    service.on('log', (level, message) => log(level, message));
    // A cascade's pass 2 is made when its pass 1 completes, and at start-up if a kill came between.
    const cascades = new CascadeLinker(service, log);
    const server = createServer();
    let resolveStopped!: () => void;
    const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
    let closing: Promise<void> | null = null;
    const close = (reason = 'stopped'): Promise<void> =>
      (closing ??= (async () => {
        log('info', `daemon stopping (${reason})`);
        await rpcClients.announceStopping(reason);
        stopListening();
        await vram.stop();
        await endpointMemory.stop();
        await http.close();
        await cascades.idle();
        await service.close();
        await engines.close();
        rpcClients.disconnect();
        lock.release();
        resolveStopped();
      })());
    const info = async (): Promise<DaemonInfo> => {
      const up = await engine.ping().catch(() => false);
      return {
        pid: process.pid,
        version: VERSION,
        dataDir: config.dataDir,
        socket,
        engine: {
          name: engine.name,
          url: engineAt,
          up,
          models: up ? await engine.listModels().catch(() => []) : [],
        },
        // Each endpoint's models, where it answers (the first one's are the engine's above).
        endpoints: await Promise.all(
          engines.endpoints.map(async (endpoint) => {
            const status = endpoint.status();
            const models = status.up ? await endpoint.engine.listModels().catch(() => null) : null;
            return models ? { ...status, models } : status;
          }),
        ),
        runningBatchId: service.runningBatchId,
        http: http.url,
        gpu: vram.snapshot() ?? null,
        config: shownConfig(config),
      };
    };
    const rpcClients = serveRpc(server, service, {
      info,
      modelContextLength: (model) => engines.contextLength(model),
      shutdown: () => void close('a shutdown request'),
    });
    httpServer = await startHttp(service, engine, createMetrics(service, engine, engines), {
      host: config.host,
      port: config.port,
      maxUploadBytes: config.maxUploadMb * 1024 ** 2,
      ...(config.apiKey && { apiKey: config.apiKey }),
      ...(config.corsOrigin && { corsOrigin: config.corsOrigin }),
      ...(engineAt && { engineUrl: engineAt }),
    }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE'
        ? new DaemonStartError(
            `HTTP port ${config.port} on ${config.host} is in use (another ollama-batch daemon?); choose another with --port, or 0 for any free port`,
            EXIT_HTTP_PORT_IN_USE,
          )
        : error;
    });
    const http = httpServer;
    lock.setHttp(http.url);
    const stopListening = await listenOnSocket(server, socket);
    const logged = new Map<string, string>();
    service.on('changed', (batch) => {
      // Status changes and pauses, not every progress tick: a 13-hour run must not flood the log.
      const state = `${batch.status} ${batch.paused_reason ?? ''}`;
      if (logged.get(batch.id) === state) return;
      logged.set(batch.id, state);
      const { total, completed, failed } = batch.request_counts;
      log(
        'info',
        `${batch.id} ${batch.status} ${completed + failed}/${total}${batch.paused_reason ? ` (paused: ${batch.paused_reason})` : ''}`,
      );
    });
    // The first reading names the GPUs, which learned limits are kept by.
    vram.start();
    endpointMemory.start();
    await vram.pollNow();
    cascades.start();
    await service.start();
    log(
      'info',
      `daemon ${VERSION} pid ${process.pid} listening on ${socket} and ${http.url}, ${engines.endpoints.map((endpoint) => `engine ${endpoint.engine.name}${endpoint.url ? ` at ${endpoint.url}` : ''}`).join(', ')}, data in ${config.dataDir}`,
    );
    return { socket, httpUrl: http.url, service, engine, stopped, close };
  } catch (error) {
    await monitor?.stop();
    await memory?.stop();
    await httpServer?.close();
    await pool?.close().catch(() => undefined);
    lock.release();
    throw error;
  }
}

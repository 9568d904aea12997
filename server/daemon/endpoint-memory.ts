// Each endpoint's memory as the daemon can read it: this machine's reading (nvidia-smi, and the
// /api/ps of the Ollama on it) for the endpoints on this machine; for an Ollama on another host,
// its own /api/ps (which models it holds, and whether one spilled to system RAM), since no GPU
// of another host can be read from here.
import { OllamaEngine } from '../engines/ollama.js';
import { VramMonitor, type VramSnapshot } from '../gpu/vram-monitor.js';
import type { Endpoint } from '../pool/endpoint.js';
import type { EnginePool } from '../pool/pool.js';

export class EndpointMemory {
  private readonly remote: VramMonitor[];

  constructor(
    private readonly pool: EnginePool,
    local: VramMonitor,
    private readonly log: (level: 'info' | 'warn', message: string) => void,
    intervalMs?: number,
  ) {
    local.on('snapshot', (snapshot) => {
      for (const endpoint of pool.endpoints) if (endpoint.local) this.note(endpoint, snapshot);
    });
    this.remote = pool.endpoints
      .filter((endpoint) => !endpoint.local && endpoint.engine instanceof OllamaEngine)
      .map((endpoint) => {
        const monitor = new VramMonitor({
          nvidiaSmiPath: null,
          source: endpoint.engine as OllamaEngine,
          ...(intervalMs && { intervalMs }),
        });
        monitor.on('snapshot', (snapshot) => this.note(endpoint, snapshot));
        return monitor;
      });
  }

  start(): void {
    for (const monitor of this.remote) monitor.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.remote.map((monitor) => monitor.stop()));
  }

  /** Keeps the reading's warnings with the endpoint; a new one goes to the log once. */
  private note(endpoint: Endpoint, snapshot: VramSnapshot): void {
    const before = new Set(endpoint.memoryWarnings);
    endpoint.memoryWarnings = snapshot.warnings;
    if (this.pool.endpoints.length === 1) return; // a lone endpoint's warnings are the daemon's own
    for (const warning of snapshot.warnings)
      if (!before.has(warning)) this.log('warn', `endpoint ${endpoint.name}: ${warning}`);
  }
}

// The daemon's pool of engines from its configuration: an engine per endpoint the `endpoints`
// setting lists (or the one the single-engine settings make), each with its name, its URL for
// displays, its concurrency (its own, else what its engine tells at the start), weight and aliases.
import { endpointConfigs } from '../config/endpoints.js';
import type { Engine } from '../engines/engine.js';
import {
  createEndpointEngine,
  endpointConcurrency,
  endpointUrl,
  type SharedEngineSettings,
} from '../engines/factory.js';
import { Endpoint } from '../pool/endpoint.js';
import { EnginePool } from '../pool/pool.js';
import type { DaemonConfig } from './config.js';

/** Builds every endpoint's engine, in order; one that cannot be built closes those built before it. */
export async function createEnginePool(
  config: DaemonConfig,
  shared: SharedEngineSettings = config,
): Promise<EnginePool> {
  const endpoints = endpointConfigs(config);
  const engines: Engine[] = [];
  try {
    for (const endpoint of endpoints) engines.push(await createEndpointEngine(endpoint, shared));
  } catch (error) {
    await Promise.all(engines.map((engine) => engine.close().catch(() => undefined)));
    throw error;
  }
  return new EnginePool(
    await Promise.all(
      endpoints.map(async (endpoint, index) => {
        const engine = engines[index]!;
        return new Endpoint({
          name: endpoint.name,
          engine,
          url: endpointUrl(endpoint),
          concurrency: await endpointConcurrency(endpoint, engine),
          weight: endpoint.weight,
          modelAliases: endpoint.modelAliases,
        });
      }),
    ),
  );
}

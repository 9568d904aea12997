// The engines one batch runs over: the endpoints, the first one the default. Which of them can
// serve a batch's model, under which name, and how they stand. One endpoint is the simplest
// case and the default; the runner's lanes do the scheduling.
import type { Engine } from '../engines/engine.js';
import type { EndpointStatus } from '../protocol/endpoints.js';
import { Endpoint } from './endpoint.js';
import type { ModelAliases } from './models.js';

/** An endpoint that serves a batch's model, and the name it serves it under. */
export interface ServingEndpoint {
  endpoint: Endpoint;
  model: string;
}

export class EnginePool {
  constructor(readonly endpoints: readonly Endpoint[]) {
    if (endpoints.length === 0) throw new Error('a pool needs at least one endpoint');
  }

  /** A pool of one engine, named by its kind: the single-engine daemon, and tests. */
  static of(engine: Engine, modelAliases?: ModelAliases): EnginePool {
    return new EnginePool([
      new Endpoint({ name: engine.name, engine, url: null, ...(modelAliases && { modelAliases }) }),
    ]);
  }

  /** The first endpoint: what single-engine facts (model facts, token counts) are asked of. */
  get default(): Endpoint {
    return this.endpoints[0]!;
  }

  /**
   * Why no endpoint can serve `model` (the default endpoint's reason where none can), or null
   * when one can, or when one does not answer (a run waits for it, as for any engine down).
   */
  async problem(model: string): Promise<string | null> {
    const problems = await Promise.all(this.endpoints.map((endpoint) => endpoint.models.problem(model)));
    if (problems.some((problem) => problem === null)) return null;
    if (this.endpoints.length === 1) return problems[0]!;
    return this.endpoints.map((endpoint, index) => `${endpoint.name}: ${problems[index]}`).join('; ');
  }

  /** The endpoints a batch of `model` runs on (those that do not say they lack it), each with its name for it. */
  async serving(model: string): Promise<ServingEndpoint[]> {
    const serving = await Promise.all(
      this.endpoints.map(async (endpoint) =>
        (await endpoint.models.problem(model)) === null
          ? { endpoint, model: await endpoint.models.engineName(model) }
          : null,
      ),
    );
    return serving.filter((entry): entry is ServingEndpoint => entry !== null);
  }

  /** The largest context every endpoint serving `model` takes (the smallest of their limits); undefined where none tells. */
  async contextLength(model: string): Promise<number | undefined> {
    const limits = await Promise.all(
      (await this.serving(model)).map(({ endpoint, model: name }) =>
        endpoint.engine.modelFacts(name).then(
          (facts) => facts.contextLength,
          () => undefined,
        ),
      ),
    );
    const known = limits.filter((limit): limit is number => limit !== undefined);
    return known.length > 0 ? Math.min(...known) : undefined;
  }

  /** True when any endpoint answers. */
  async ping(): Promise<boolean> {
    const answers = await Promise.all(this.endpoints.map((endpoint) => endpoint.engine.ping().catch(() => false)));
    return answers.includes(true);
  }

  statuses(): EndpointStatus[] {
    return this.endpoints.map((endpoint) => endpoint.status());
  }

  async close(): Promise<void> {
    await Promise.all(this.endpoints.map((endpoint) => endpoint.close()));
  }
}

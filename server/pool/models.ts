// The engine's models, for a batch's model: checked while the batch validates, so that a model
// the engine does not serve fails the batch at once (not 170,000 error lines later), and named
// as the engine serves it when the batch runs. Model aliases let a file written for one engine
// run on another: the request's model name → the name the engine serves.
import { basename } from 'node:path';
import type { Engine } from '../engines/engine.js';

/** How long one answer to "which models" holds: a validation asks once, and the run that follows reuses it. */
const LIST_TTL_MS = 5000;

/** Request model name → the name the engine serves (for llama-cpp, also its model file's path). */
export type ModelAliases = Readonly<Record<string, string>>;

/** The name a request for `wanted` reaches among the engine's `names`, or undefined when none. */
function servedName(names: readonly string[], wanted: string): string | undefined {
  if (names.includes(wanted)) return wanted;
  // Ollama's rule: a name without a tag (none after its last path segment's colon) means `:latest`.
  const lastSegment = wanted.slice(wanted.lastIndexOf('/') + 1);
  if (!lastSegment.includes(':') && names.includes(`${wanted}:latest`)) return `${wanted}:latest`;
  // The llama-cpp engine serves a GGUF file under its base name: the file's path names it too.
  if (wanted.endsWith('.gguf')) return servedName(names, basename(wanted, '.gguf'));
  return undefined;
}

export class EngineModels {
  private listed: { at: number; names: Promise<string[] | null> } | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly aliases: ModelAliases = {},
  ) {}

  /**
   * Why the engine cannot serve requests for `model` (a message for the batch's error), or
   * null when it can. Also null when the engine does not answer: a batch is not failed for an
   * engine that is down; its run pauses until the engine is back, as any run does.
   */
  async problem(model: string): Promise<string | null> {
    const names = await this.list();
    const target = this.target(model);
    if (!names || servedName(names, target) !== undefined) return null;
    // The Ollama engine lists `tiny` beside `tiny:latest` (both are served): one is enough to read.
    const shown = names.filter((name) => !names.includes(`${name}:latest`));
    const asked = target === model ? `model "${model}"` : `model "${model}" (aliased to "${target}")`;
    // What to do, for a name the file uses: map it to a model the engine has (an alias's target is the one to fix).
    const fix =
      target === model && shown.length > 0
        ? `; map the name to one of them with the modelAliases setting, e.g. ${model}=${shown[0]}`
        : '';
    return `${asked} is not served by the ${this.engine.name} engine; it has: ${shown.join(', ') || 'no models'}${fix}`;
  }

  /** The name requests for `model` are sent to the engine under: an alias's target, as the engine names it. */
  async engineName(model: string): Promise<string> {
    const target = this.target(model);
    if (target === model) return model;
    const names = await this.list();
    return (names && servedName(names, target)) ?? target;
  }

  private target(model: string): string {
    // Own keys only: a model named `constructor` is no alias.
    return Object.hasOwn(this.aliases, model) ? this.aliases[model]! : model;
  }

  /** The engine's models, asked at most once per LIST_TTL_MS; null when it does not answer (not kept). */
  private list(): Promise<string[] | null> {
    const now = performance.now();
    if (this.listed && now - this.listed.at < LIST_TTL_MS) return this.listed.names;
    const names = this.engine.listModels().catch(() => null);
    const listed = (this.listed = { at: now, names });
    void names.then((answer) => {
      if (answer === null && this.listed === listed) this.listed = null;
    });
    return names;
  }
}

// From config.json to the daemon's pool: an engine per endpoint, named, with its URL, its
// concurrency (its own, or what its engine tells) and its model aliases over the daemon's, each
// answering through the real ollama client; and the single-engine settings as a pool of one.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { configPath } from '../../server/config/effective.js';
import { loadConfig } from '../../server/daemon/config.js';
import { createEnginePool } from '../../server/daemon/engine-pool.js';
import type { EnginePool } from '../../server/pool/pool.js';
import { tempDir } from '../support/batch-files.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

describe("the daemon's pool from its configuration", function () {
  this.timeout(60_000);
  let a: RunningEmulator;
  let b: RunningEmulator;
  let pool: EnginePool | undefined;

  before(async () => {
    [a, b] = await Promise.all([
      startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 2 }),
      startOllamaEmulator({ instant: true, models: ['gemma-small'], parallel: 3 }),
    ]);
  });
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  const configWith = (settings: Record<string, unknown>): ReturnType<typeof loadConfig> => {
    const dataDir = tempDir();
    writeFileSync(configPath(dataDir), JSON.stringify(settings));
    return loadConfig(dataDir, {}, {});
  };

  it('makes an endpoint of each entry, and a batch model reaches each under its own name', async () => {
    const config = configWith({
      modelAliases: { 'gemma3:12b': 'tiny' },
      endpoints: [
        { engine: 'ollama', url: a.url, concurrency: 2 },
        { engine: 'ollama', url: b.url, name: 'b', weight: 0.5, modelAliases: { 'gemma3:12b': 'gemma-small' } },
      ],
    });
    pool = await createEnginePool(config, { env: { OLLAMA_NUM_PARALLEL: '3' } });
    assert.deepEqual(
      pool.endpoints.map(({ name, url, concurrency, weight }) => ({ name, url, concurrency, weight })),
      [
        { name: `ollama@${new URL(a.url).host}`, url: a.url, concurrency: 2, weight: 1 },
        // Discovered: OLLAMA_NUM_PARALLEL for an Ollama on this machine.
        { name: 'b', url: b.url, concurrency: 3, weight: 0.5 },
      ],
    );
    const serving = await pool.serving('gemma3:12b');
    assert.deepEqual(
      serving.map(({ endpoint, model }) => [endpoint.name, model]),
      [
        [pool.endpoints[0]!.name, 'tiny'],
        ['b', 'gemma-small'],
      ],
    );
    for (const { endpoint, model } of serving) {
      const answer = await endpoint.engine.chat(
        { model, messages: [{ role: 'user', content: 'x' }] },
        new AbortController().signal,
      );
      assert.equal(answer.model, model);
    }
    assert.equal(a.stats.completed, 1);
    assert.equal(b.stats.completed, 1);
  });

  it('makes one endpoint of the single-engine settings where no list is given', async () => {
    pool = await createEnginePool(configWith({ ollamaUrl: b.url, concurrency: 5 }), { env: {} });
    assert.deepEqual(
      pool.endpoints.map(({ name, url, concurrency }) => ({ name, url, concurrency })),
      [{ name: `ollama@${new URL(b.url).host}`, url: b.url, concurrency: 5 }],
    );
    assert.equal(await pool.ping(), true);
  });

  it('fails to start, naming the file, where an endpoint cannot be built', async () => {
    const config = configWith({
      endpoints: [
        { engine: 'ollama', url: a.url },
        { engine: 'llama-cpp', modelPath: '/nonexistent/model.gguf' },
      ],
    });
    await assert.rejects(createEnginePool(config, { env: {} }), /\/nonexistent\/model\.gguf/);
  });
});

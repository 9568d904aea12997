// Concurrency "discover": what each engine kind really tells of the requests it runs at once.
// llama-server: GET /props total_slots. vLLM: max_num_seqs × its data-parallel engines, from GET
// /server_info?config_format=json, which it serves only in dev mode (VLLM_SERVER_DEV_MODE=1).
// Ollama: nothing over its API; OLLAMA_NUM_PARALLEL of the daemon's own environment, for an
// Ollama on this machine. The servers here speak each one's documented shape over real HTTP.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { endpointConfigs, type Endpoint } from '../../server/config/endpoints.js';
import type { EndpointConfig } from '../../server/protocol/endpoints.js';
import { createEndpointEngine, endpointConcurrency } from '../../server/engines/factory.js';
import { tinyModelPath } from '../support/models.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

interface JsonServer {
  url: string;
  /** Every request's path and authorization header, in order. */
  seen: Array<{ path: string; authorization: string | undefined }>;
  close(): Promise<void>;
}

/** A server answering `routes` (path with its query → JSON body) and 404 to the rest. */
async function jsonServer(routes: Record<string, unknown>): Promise<JsonServer> {
  const seen: JsonServer['seen'] = [];
  const server = http.createServer((request, response) => {
    seen.push({ path: request.url!, authorization: request.headers.authorization });
    const body = routes[request.url!];
    if (body === undefined) response.writeHead(404).end('{"detail":"Not Found"}');
    else response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const endpointOf = (entry: EndpointConfig): Endpoint => endpointConfigs({ endpoints: [entry] })[0]!;

/** vLLM's /server_info body (config_format=json), with the parts read here. */
const vllmServerInfo = (maxNumSeqs: number, parallel: Record<string, unknown>): unknown => ({
  vllm_config: {
    model_config: { model: 'Qwen/Qwen3-0.6B', max_model_len: 8192 },
    cache_config: { block_size: 16, enable_prefix_caching: true },
    scheduler_config: { max_num_seqs: maxNumSeqs, max_num_batched_tokens: 8192 },
    parallel_config: { tensor_parallel_size: 1, data_parallel_size: 1, ...parallel },
  },
  vllm_env: { VLLM_SERVER_DEV_MODE: true },
});

const SERVER_INFO = '/server_info?config_format=json';

describe('concurrency discovery', function () {
  this.timeout(120_000);
  const servers: JsonServer[] = [];
  const serve = async (routes: Record<string, unknown>): Promise<JsonServer> => {
    const server = await jsonServer(routes);
    servers.push(server);
    return server;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it("reads a llama-server's total_slots from /props; a number configured wins", async () => {
    const server = await serve({ '/props': { total_slots: 6, default_generation_settings: { n_ctx: 8192 } } });
    const endpoint = endpointOf({ engine: 'openai', url: `${server.url}/v1`, apiKey: 'sk-local' });
    const engine = await createEndpointEngine(endpoint);
    assert.equal(await endpointConcurrency(endpoint, engine), 6);
    assert.deepEqual(server.seen, [{ path: '/props', authorization: 'Bearer sk-local' }]);
    assert.equal(await endpointConcurrency({ ...endpoint, concurrency: 2 }, engine), 2);
  });

  it("reads vLLM's max_num_seqs times the data-parallel engines its API server balances over", async () => {
    const cases: Array<[Record<string, unknown>, number]> = [
      [{}, 128],
      [{ data_parallel_size: 4 }, 512],
      // Hybrid balancing: this node's engines; external: each engine has its own server.
      [{ data_parallel_size: 4, data_parallel_size_local: 2, data_parallel_hybrid_lb: true }, 256],
      [{ data_parallel_size: 4, data_parallel_external_lb: true }, 128],
    ];
    for (const [parallel, expected] of cases) {
      const server = await serve({ [SERVER_INFO]: vllmServerInfo(128, parallel) });
      const engine = await createEndpointEngine(endpointOf({ engine: 'openai', url: `${server.url}/v1` }));
      assert.equal(await engine.slots(), expected, JSON.stringify(parallel));
      assert.deepEqual(
        server.seen.map((request) => request.path),
        ['/props', SERVER_INFO],
      );
    }
  });

  it('tells nothing where vLLM runs without dev mode, or answers in text', async () => {
    for (const routes of [{}, { [SERVER_INFO]: { vllm_config: 'model=Qwen/Qwen3-0.6B, max_num_seqs=128' } }]) {
      const server = await serve(routes);
      const endpoint = endpointOf({ engine: 'openai', url: `${server.url}/v1` });
      const engine = await createEndpointEngine(endpoint);
      assert.equal(await engine.slots(), undefined);
      assert.equal(await endpointConcurrency(endpoint, engine), undefined);
    }
  });

  describe('Ollama', () => {
    let emulator: RunningEmulator;
    before(async () => {
      emulator = await startOllamaEmulator({ instant: true, parallel: 3 });
    });
    after(async () => {
      await emulator?.close();
    });

    it("takes OLLAMA_NUM_PARALLEL from the daemon's environment for an Ollama on this machine", async () => {
      const endpoint = endpointOf({ engine: 'ollama', url: emulator.url });
      const engine = await createEndpointEngine(endpoint, { env: { OLLAMA_NUM_PARALLEL: '3' } });
      assert.equal(await engine.ping(), true);
      assert.equal(await endpointConcurrency(endpoint, engine), 3);
      const localhost = endpointOf({ engine: 'ollama', url: emulator.url.replace('127.0.0.1', 'localhost') });
      assert.equal(await (await createEndpointEngine(localhost, { env: { OLLAMA_NUM_PARALLEL: '3' } })).slots(), 3);
    });

    it("never for another host's Ollama, nor where the variable leaves it to Ollama (unset, 0)", async () => {
      const remote = endpointOf({ engine: 'ollama', url: 'http://gpu-box:11434' });
      assert.equal(
        await (await createEndpointEngine(remote, { env: { OLLAMA_NUM_PARALLEL: '3' } })).slots(),
        undefined,
      );
      const local = endpointOf({ engine: 'ollama', url: emulator.url });
      for (const env of [{}, { OLLAMA_NUM_PARALLEL: '0' }, { OLLAMA_NUM_PARALLEL: 'four' }]) {
        const engine = await createEndpointEngine(local, { env });
        assert.equal(await engine.slots(), undefined, JSON.stringify(env));
        assert.equal(await endpointConcurrency(local, engine), undefined);
      }
    });
  });

  it('gives the in-process engine the slots its endpoint asks for, one where it discovers', async () => {
    const modelPath = await tinyModelPath();
    for (const [concurrency, slots] of [
      [2, 2],
      ['discover', 1],
    ] as const) {
      const endpoint = endpointOf({ engine: 'llama-cpp', modelPath, threads: 1, concurrency });
      const engine = await createEndpointEngine(endpoint, { numCtx: 512 });
      try {
        assert.equal(await endpointConcurrency(endpoint, engine), slots);
      } finally {
        await engine.close();
      }
    }
  });
});

// The `endpoints` setting: the list a daemon runs a batch over, each entry checked for its
// engine's kind with errors at their field, completed with defaults and a unique name; with no
// list, one endpoint made of the single-engine settings, as the daemon ran before pools.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON_SETTINGS, serveOptions } from '../../client/model/daemon-settings.js';
import { configPath } from '../../server/config/effective.js';
import { endpointConfigs } from '../../server/config/endpoints.js';
import { secretEnv, serveArgs } from '../../server/config/serve-args.js';
import { checkSetting, fromText } from '../../server/config/settings.js';
import { loadConfig, shownConfig } from '../../server/daemon/config.js';
import { createEngine, endpointUrl, engineUrl } from '../../server/engines/factory.js';
import { OllamaEngine } from '../../server/engines/ollama.js';
import { OpenAIEngine } from '../../server/engines/openai.js';
import { tempDir } from '../support/batch-files.js';
import { cli } from '../support/cli-process.js';

/** The daemon's configuration from a config.json holding `settings`, in an environment of its own. */
function configWith(settings: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ReturnType<typeof loadConfig> {
  const dataDir = tempDir();
  writeFileSync(configPath(dataDir), JSON.stringify(settings));
  return loadConfig(dataDir, {}, env);
}

describe('endpoints: the one default endpoint', () => {
  it("is today's ollama engine: OLLAMA_HOST's URL, the daemon's concurrency and aliases", async () => {
    const config = configWith({ concurrency: 3, modelAliases: { 'gemma3:12b': 'tiny' } }, { OLLAMA_HOST: 'gpu-box' });
    assert.deepEqual(endpointConfigs(config), [
      {
        name: 'ollama@gpu-box:11434',
        engine: 'ollama',
        url: 'http://gpu-box:11434',
        concurrency: 3,
        weight: 1,
        modelAliases: { 'gemma3:12b': 'tiny' },
      },
    ]);
    assert.equal(endpointUrl(endpointConfigs(config)[0]!), engineUrl(config));
    const engine = await createEngine(config);
    assert.ok(engine instanceof OllamaEngine);
    assert.equal(engine.url, config.ollamaUrl);
  });

  it("is today's openai engine with its key, and discovers its concurrency where none is set", async () => {
    const config = configWith({ engine: 'openai', openaiUrl: 'http://10.0.0.5:8000/v1' }, { OPENAI_API_KEY: 'sk-1' });
    assert.deepEqual(endpointConfigs(config), [
      {
        name: 'openai@10.0.0.5:8000',
        engine: 'openai',
        url: 'http://10.0.0.5:8000/v1',
        apiKey: 'sk-1',
        concurrency: 'discover',
        weight: 1,
        modelAliases: {},
      },
    ]);
    const engine = await createEngine(config);
    assert.ok(engine instanceof OpenAIEngine);
    assert.equal(engine.baseURL, 'http://10.0.0.5:8000/v1');
  });

  it("is today's llama-cpp engine: its file, threads and slots, no URL", () => {
    const config = configWith({ engine: 'llama-cpp', modelPath: '/models/tiny.gguf', threads: 2, concurrency: 2 });
    assert.deepEqual(endpointConfigs(config), [
      {
        name: 'llama-cpp@tiny',
        engine: 'llama-cpp',
        modelPath: '/models/tiny.gguf',
        threads: 2,
        concurrency: 2,
        weight: 1,
        modelAliases: {},
      },
    ]);
    assert.equal(endpointUrl(endpointConfigs(config)[0]!), null);
    assert.equal(engineUrl(config), null);
  });

  it('gives way to a list: the single-engine settings then only fill its blanks', () => {
    const config = configWith(
      {
        engine: 'llama-cpp', // no modelPath: not needed where a list is given
        ollamaUrl: 'http://127.0.0.1:11434',
        modelAliases: { a: 'x', b: 'y' },
        endpoints: [
          { engine: 'ollama' },
          { engine: 'ollama', url: 'gpu-box', weight: 2.5, concurrency: 8, modelAliases: { b: 'z' } },
          { engine: 'openai' },
        ],
      },
      { OPENAI_API_KEY: 'sk-2' },
    );
    assert.deepEqual(endpointConfigs(config), [
      {
        name: 'ollama@127.0.0.1:11434',
        engine: 'ollama',
        url: 'http://127.0.0.1:11434',
        concurrency: 'discover',
        weight: 1,
        modelAliases: { a: 'x', b: 'y' },
      },
      {
        name: 'ollama@gpu-box:11434',
        engine: 'ollama',
        url: 'http://gpu-box:11434',
        concurrency: 8,
        weight: 2.5,
        modelAliases: { a: 'x', b: 'z' },
      },
      {
        name: 'openai@127.0.0.1:8080',
        engine: 'openai',
        url: 'http://127.0.0.1:8080/v1',
        apiKey: 'sk-2',
        concurrency: 'discover',
        weight: 1,
        modelAliases: { a: 'x', b: 'y' },
      },
    ]);
  });
});

describe('endpoints: names', () => {
  it('names each kind@host:port (llama-cpp@file), -2 and on after a clash, and keeps names given', () => {
    const names = endpointConfigs({
      endpoints: [
        { engine: 'ollama', url: 'http://gpu-box:11434' },
        { engine: 'ollama', url: 'http://gpu-box:11434' },
        { engine: 'ollama', url: 'http://gpu-box:11434', name: 'ollama@gpu-box:11434-3' },
        { engine: 'ollama', url: 'http://gpu-box:11434' },
        { engine: 'openai', url: 'https://vllm.example.org/v1' },
        { engine: 'llama-cpp', modelPath: '/models/tiny.gguf' },
        { engine: 'llama-cpp', modelPath: '/other/tiny.gguf', name: 'cpu' },
      ],
    }).map((endpoint) => endpoint.name);
    assert.deepEqual(names, [
      'ollama@gpu-box:11434',
      'ollama@gpu-box:11434-2',
      'ollama@gpu-box:11434-3',
      'ollama@gpu-box:11434-4',
      'openai@vllm.example.org',
      'llama-cpp@tiny',
      'cpu',
    ]);
  });
});

describe('endpoints: errors name the file, the entry and the field', () => {
  const refused = (endpoints: unknown, message: RegExp): void =>
    assert.throws(
      () => configWith({ endpoints }),
      (error: Error) => {
        assert.match(error.message, /config\.json: endpoints/);
        assert.match(error.message, message);
        return true;
      },
    );

  it('refuses a bad URL, a missing file, bad numbers and a name given twice', () => {
    refused(
      [{ engine: 'ollama' }, { engine: 'openai', url: 'gpu-box:8000' }],
      /endpoints\[1\]\.url: expected a URL such as http:\/\/gpu-box:8000\/v1, got "gpu-box:8000"$/,
    );
    refused([{ engine: 'ollama', url: 'http://[bad' }], /endpoints\[0\]\.url: expected a URL or host\[:port\]/);
    refused([{ engine: 'llama-cpp' }], /endpoints\[0\]\.modelPath: a llama-cpp endpoint needs its GGUF file$/);
    refused(
      [{ engine: 'llama-cpp', modelPath: 'tiny.gguf' }],
      /endpoints\[0\]\.modelPath: expected an absolute path .*, got "tiny\.gguf"/,
    );
    refused([{ engine: 'ollama', concurrency: 0 }], /endpoints\[0\]\.concurrency: expected a whole number at least 1/);
    refused([{ engine: 'ollama', concurrency: 'auto' }], /endpoints\[0\]\.concurrency: .*or "discover", got "auto"/);
    refused([{ engine: 'ollama', concurrency: 2.5 }], /endpoints\[0\]\.concurrency: expected a whole number/);
    refused([{ engine: 'ollama', weight: 0 }], /endpoints\[0\]\.weight: expected a number above 0, got 0/);
    refused([{ engine: 'ollama', weight: -1 }], /endpoints\[0\]\.weight: expected a number above 0, got -1/);
    refused(
      [
        { engine: 'ollama', name: 'gpu' },
        { engine: 'ollama', url: 'b' },
        { engine: 'ollama', url: 'c', name: 'gpu' },
      ],
      /endpoints\[2\]\.name: "gpu" is already the name of endpoints\[0\]/,
    );
  });

  it('refuses a field of another kind, an unknown field, a missing kind and what is not a list', () => {
    refused(
      [{ engine: 'ollama', modelPath: '/m.gguf' }],
      /endpoints\[0\]\.modelPath: only llama-cpp endpoints take it/,
    );
    refused(
      [{ engine: 'llama-cpp', modelPath: '/m.gguf', url: 'http://x' }],
      /endpoints\[0\]\.url: only ollama and openai endpoints take it/,
    );
    refused(
      [{ engine: 'ollama', apiKey: 'k' }],
      /endpoints\[0\]\.apiKey: only openai endpoints take it, got \(a key\)/,
    );
    refused([{ engine: 'ollama', concurency: 2 }], /endpoints\[0\]: unknown field "concurency"/);
    refused([{ url: 'http://x' }], /endpoints\[0\]\.engine: expected one of ollama, openai, llama-cpp/);
    refused([{ engine: 'vllm' }], /endpoints\[0\]\.engine: expected one of ollama, openai, llama-cpp, got "vllm"/);
    refused(['http://x'], /endpoints\[0\]: expected an endpoint/);
    refused({ engine: 'ollama' }, /endpoints: expected a list of endpoints/);
  });

  it('names the flag, and says what a flag that is not JSON should be', () => {
    assert.throws(
      () => checkSetting('endpoints', fromText('endpoints', '[{"engine": "ollama"'), '--endpoints'),
      /^Error: --endpoints: expected a list of endpoints, e\.g\. \[\{"engine": "ollama"/,
    );
    assert.deepEqual(checkSetting('endpoints', fromText('endpoints', '[{"engine": "ollama", "url": "b:1"}]'), 'x'), [
      { engine: 'ollama', url: 'http://b:1' },
    ]);
  });
});

describe('endpoints: keys', () => {
  const endpoints = [
    { engine: 'openai', url: 'http://vllm-box:8000/v1', apiKey: 'sk-secret' },
    { engine: 'ollama', url: 'http://gpu-box:11434' },
  ] as const;

  it('shows them masked, and passes a list that holds one to a daemon in its environment, not its command line', () => {
    const config = configWith({ endpoints });
    assert.equal(endpointConfigs(config)[0]!.apiKey, 'sk-secret');
    const shown = JSON.stringify(shownConfig(config).endpoints);
    assert.ok(!shown.includes('sk-secret') && shown.includes('(set)'), shown);

    const args = serveArgs({ endpoints: [...endpoints], port: 0 });
    assert.deepEqual(args, ['--port', '0']);
    const env = secretEnv({ endpoints: [...endpoints] });
    assert.deepEqual(checkSetting('endpoints', fromText('endpoints', env.OLLAMA_BATCH_ENDPOINTS!), 'env'), endpoints);
    // The daemon reads it back from there.
    assert.equal(loadConfig(tempDir(), {}, env).endpoints?.[0]?.apiKey, 'sk-secret');

    const keyless = [endpoints[1]];
    assert.deepEqual(serveArgs({ endpoints: keyless }), ['--endpoints', JSON.stringify(keyless)]);
    assert.deepEqual(secretEnv({ endpoints: keyless }), {});
  });
});

describe("endpoints: the extension's ollamaBatch.endpoints", () => {
  it('starts a daemon with them (a list holding a key in its environment), and asks for a restart when they change', () => {
    assert.ok(DAEMON_SETTINGS.includes('endpoints'));
    const keyless = [{ engine: 'ollama', url: 'http://gpu-box:11434' }];
    assert.deepEqual(
      serveOptions((name) => (name === 'endpoints' ? keyless : undefined)),
      {
        args: ['--endpoints', JSON.stringify(keyless)],
        env: {},
      },
    );
    const keyed = [{ engine: 'openai', url: 'http://vllm-box:8000/v1', apiKey: 'sk-3' }];
    const { args, env } = serveOptions((name) => (name === 'endpoints' ? keyed : undefined));
    assert.deepEqual(args, []);
    assert.deepEqual(JSON.parse(env.OLLAMA_BATCH_ENDPOINTS!), keyed);
    // An empty list is the default: nothing passed, config.json keeps its say.
    assert.deepEqual(
      serveOptions((name) => (name === 'endpoints' ? [] : undefined)),
      { args: [], env: {} },
    );
  });
});

describe('endpoints: config set, through the CLI', function () {
  this.timeout(60_000);

  it('remembers the list in config.json as checked, shows it with its source, and names a bad field', async () => {
    const dataDir = tempDir();
    const list =
      '[{"engine":"ollama","url":"gpu-box"},{"engine":"openai","url":"http://vllm-box:8000/v1/","concurrency":64}]';
    const set = await cli(['config', 'set', 'endpoints', list, '--data-dir', dataDir]);
    assert.equal(set.code, 0, set.stderr);
    const remembered = JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')) as { endpoints: unknown };
    assert.deepEqual(remembered.endpoints, [
      { engine: 'ollama', url: 'http://gpu-box:11434' },
      { engine: 'openai', url: 'http://vllm-box:8000/v1', concurrency: 64 },
    ]);
    const shown = await cli(['config', '--json', '--data-dir', dataDir]);
    const settings = (JSON.parse(shown.stdout) as { settings: Record<string, { value: unknown; source: string }> })
      .settings;
    assert.deepEqual(settings.endpoints, {
      value: remembered.endpoints,
      source: 'config.json',
      scope: 'daemon',
      flag: '--endpoints',
      env: 'OLLAMA_BATCH_ENDPOINTS',
    });
    // The daemon takes what config set wrote.
    assert.deepEqual(
      endpointConfigs(loadConfig(dataDir, {}, {})).map((endpoint) => endpoint.name),
      ['ollama@gpu-box:11434', 'openai@vllm-box:8000'],
    );

    const bad = await cli([
      'config',
      'set',
      'endpoints',
      '[{"engine":"ollama"},{"engine":"ollama","weight":0}]',
      '--data-dir',
      dataDir,
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /endpoints\[1\]\.weight: expected a number above 0, got 0/);
    assert.deepEqual(
      (JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')) as { endpoints: unknown }).endpoints,
      remembered.endpoints,
      'a refused value leaves config.json as it was',
    );
  });
});

// Settings: built-in defaults, then config.json in the data dir, then flags.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../server/daemon/config.js';
import { tempDir } from '../support/batch-files.js';

describe('daemon settings', () => {
  it('takes config.json over the defaults, and flags over config.json', () => {
    const dataDir = tempDir();
    writeFileSync(
      join(dataDir, 'config.json'),
      JSON.stringify({ engine: 'openai', openaiUrl: 'http://gpu-box:8000/v1', concurrency: 8 }),
    );
    const fromFile = loadConfig(dataDir, {});
    assert.equal(fromFile.engine, 'openai');
    assert.equal(fromFile.openaiUrl, 'http://gpu-box:8000/v1');
    assert.equal(fromFile.concurrency, 8);
    assert.equal(fromFile.dataDir, dataDir);
    const flagged = loadConfig(dataDir, { concurrency: 2, engine: undefined });
    assert.equal(flagged.concurrency, 2, 'a flag wins');
    assert.equal(flagged.engine, 'openai', 'an unset flag does not override the file');
  });

  it('defaults to the Ollama engine at OLLAMA_HOST', () => {
    const saved = process.env.OLLAMA_HOST;
    process.env.OLLAMA_HOST = '0.0.0.0:12345';
    try {
      const config = loadConfig(tempDir(), {});
      assert.equal(config.engine, 'ollama');
      assert.equal(config.ollamaUrl, 'http://127.0.0.1:12345');
    } finally {
      if (saved === undefined) delete process.env.OLLAMA_HOST;
      else process.env.OLLAMA_HOST = saved;
    }
  });

  it('names the file when config.json is broken, and refuses an unknown engine', () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), '{ "engine": ');
    assert.throws(() => loadConfig(dataDir, {}), /config\.json: not valid JSON/);
    assert.throws(
      () => loadConfig(tempDir(), { engine: 'vllm' as never }),
      /engine must be one of ollama, openai, llama-cpp/,
    );
    assert.throws(() => loadConfig(tempDir(), { engine: 'llama-cpp' }), /needs a GGUF file/);
  });
});

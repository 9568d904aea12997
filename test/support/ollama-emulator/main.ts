// npm run ollama-emulator -- --port P --model F [--parallel N] [--instant] [--latency-ms N]
//   [--fault-rate X] [--fault 500|reset|503|timeout|oom|empty|html] [--max-queue N] [--threads N] [--ctx-size N]
// An Ollama stand-in on 127.0.0.1:P: real inference with node-llama-cpp on the GGUF file F
// (served under its base name, tiny.gguf → tiny), or --instant answers at no cost.
import { basename, extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Engine } from '../../../server/engines/engine.js';
import { EMULATOR_FAULTS, startOllamaEmulator } from './server.js';
import type { EmulatorFault, EmulatorOptions } from './server.js';

const usage =
  'usage: ollama-emulator --port P --model FILE.gguf [--parallel N] [--instant] [--latency-ms N] ' +
  `[--fault-rate X] [--fault ${EMULATOR_FAULTS.join('|')}] [--max-queue N] [--threads N] [--ctx-size N] [--host H]`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

function number(value: string | undefined, name: string, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) fail(`--${name} needs a non-negative number, got ${value}`);
  return parsed;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '11434' },
        host: { type: 'string', default: '127.0.0.1' },
        model: { type: 'string' },
        parallel: { type: 'string', default: '1' },
        instant: { type: 'boolean', default: false },
        'latency-ms': { type: 'string' },
        'fault-rate': { type: 'string' },
        fault: { type: 'string' },
        'max-queue': { type: 'string' },
        threads: { type: 'string' },
        'ctx-size': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const fault = values.fault as EmulatorFault | undefined;
  if (fault !== undefined && !EMULATOR_FAULTS.includes(fault)) fail(`unknown --fault ${fault}`);
  const faultRate = number(values['fault-rate'], 'fault-rate');
  if (faultRate !== undefined && faultRate > 1) fail('--fault-rate is a share between 0 and 1');
  if (!values.instant && !values.model) fail('--model FILE.gguf is required unless --instant');
  const parallel = Math.max(1, Math.floor(number(values.parallel, 'parallel', 1)!));

  let engine: Engine | undefined;
  const modelPath = values.model ? resolve(values.model) : undefined;
  if (!values.instant && modelPath) {
    // Imported only here, so that --instant never loads node-llama-cpp.
    const { LlamaCppEngine } = await import('../../../server/engines/llama-cpp.js');
    const threads = number(values.threads, 'threads');
    const contextSize = number(values['ctx-size'], 'ctx-size');
    engine = await LlamaCppEngine.load({
      modelPath,
      slots: parallel,
      ...(threads !== undefined ? { threads } : {}),
      ...(contextSize !== undefined ? { contextSize } : {}),
    });
  }

  const options: EmulatorOptions = {
    port: number(values.port, 'port', 11434)!,
    host: values.host,
    parallel,
    instant: values.instant,
  };
  if (engine) options.engine = engine;
  if (modelPath) options.modelPath = modelPath;
  if (values.instant && modelPath) options.models = [basename(modelPath, extname(modelPath))];
  const latencyMs = number(values['latency-ms'], 'latency-ms');
  if (latencyMs !== undefined) options.latencyMs = latencyMs;
  const maxQueue = number(values['max-queue'], 'max-queue');
  if (maxQueue !== undefined) options.maxQueue = maxQueue;
  if (fault) {
    options.fault = fault;
    options.faultRate = faultRate ?? 1;
  }

  const emulator = await startOllamaEmulator(options);
  const modelName = engine ? (await engine.listModels()).join(', ') : (options.models?.[0] ?? 'instant');
  process.stdout.write(`ollama emulator listening on ${emulator.url} (model ${modelName})\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: stopping after ${emulator.stats.requests} requests\n`);
    await emulator.close();
    await engine?.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`ollama emulator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

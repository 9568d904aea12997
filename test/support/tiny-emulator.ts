// The Ollama emulator with real inference behind it: the tiny model, 2 slots of 1 thread.
import { LlamaCppEngine } from '../../server/engines/llama-cpp.js';
import { tinyModelPath } from './models.js';
import { startOllamaEmulator, type EmulatorOptions, type RunningEmulator } from './ollama-emulator/server.js';

/** close() stops the emulator and unloads the model. `options`: the emulator's, beside the engine. */
export async function startTinyEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const modelPath = await tinyModelPath();
  const engine = await LlamaCppEngine.load({ modelPath, slots: 2, threads: 1 });
  const emulator = await startOllamaEmulator({ parallel: 2, ...options, engine, modelPath });
  const closeEmulator = emulator.close.bind(emulator);
  emulator.close = async () => {
    await closeEmulator();
    await engine.close();
  };
  return emulator;
}

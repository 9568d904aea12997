// What the VS Code extension and the daemon it starts agree on for the embedded (llama-cpp)
// engine: the .vsix carries no node_modules, so the extension installs node-llama-cpp into a
// folder of its own and names that folder to the daemon in this variable.
export const ENGINE_MODULES_ENV = 'OLLAMA_BATCH_ENGINE_MODULES';

/** The extension's command that installs node-llama-cpp, as the palette shows it (package.json). */
export const INSTALL_ENGINE_COMMAND = { id: 'ollamaBatch.installEmbeddedEngine', title: 'Install Embedded Engine' };

/** What the daemon's message says when node-llama-cpp is missing and it was started by the extension. */
export const INSTALL_ENGINE_HINT = `run "Ollama Batch: ${INSTALL_ENGINE_COMMAND.title}" in VS Code`;

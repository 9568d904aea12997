// The entry VS Code loads as extensionTestsPath (desktop through @vscode/test-electron, or
// code-server through the smoke-test payload): runs the bundled *.test.cjs files beside it with
// mocha inside the extension host, where they call the real `vscode` API.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  // No colours: the output goes through VS Code's log forwarding, not a terminal.
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: false, timeout: 120_000 });
  const grep = process.env.OLLAMA_BATCH_VSCODE_GREP;
  if (grep) mocha.grep(grep);
  const files = readdirSync(__dirname).filter((name) => name.endsWith('.test.cjs'));
  // No test files is a broken build, not a pass.
  if (files.length === 0)
    return Promise.reject(new Error(`no *.test.cjs beside ${__filename}: run scripts/build-vscode-tests.mjs`));
  for (const file of files.sort()) mocha.addFile(join(__dirname, file));
  return new Promise((resolve, reject) => {
    mocha.run((failures) =>
      failures > 0 ? reject(new Error(`${failures} extension-host test(s) failed`)) : resolve(),
    );
  });
}

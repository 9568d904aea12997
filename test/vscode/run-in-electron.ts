// `npm run test:vscode`: the extension-host suite (out/test/suite) in a desktop VS Code that
// @vscode/test-electron downloads (it cannot here: no route to its hosts; code-server runs the
// same suite through npm run test:vscode:code-server). Exit code = the suite's.
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { disposeScratch, makeScratch, repoRoot } from './scratch.js';

async function main(): Promise<number> {
  const scratch = await makeScratch('electron');
  let code = 1;
  try {
    code = await runTests({
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: join(repoRoot, 'out', 'test', 'suite', 'index.cjs'),
      extensionTestsEnv: scratch.env,
      launchArgs: [
        scratch.workspace,
        '--user-data-dir',
        scratch.userDataDir,
        '--extensions-dir',
        scratch.extensionsDir,
        '--disable-extensions',
        '--disable-workspace-trust',
      ],
    });
  } catch (error) {
    console.error(error);
  } finally {
    await disposeScratch(scratch, { keep: code !== 0 });
  }
  return code;
}

void main().then((code) => process.exit(code));

// Runs the extension-host suite (out/test/suite, built by scripts/build-vscode-tests.mjs) in
// code-server's extension host, the way @vscode/test-electron runs it in a desktop VS Code:
// VS Code's smoke-test driver takes the extension and test paths from the `payload` URL
// parameter, and reports the suite's log and exit code only to the page. Exit code = the suite's.
import { join } from 'node:path';
import { format } from 'node:util';
import { launchChromium, startCodeServer, workbenchUrl } from './code-server.js';
import { disposeScratch, makeScratch, repoRoot } from './scratch.js';

/** The whole suite, VS Code's start included; each test has its own, shorter timeout. */
const SUITE_TIMEOUT_MS = 10 * 60_000;

async function main(): Promise<number> {
  const scratch = await makeScratch('suite');
  let code = 1;
  try {
    // Without this option VS Code ignores the payload without a word.
    const server = await startCodeServer(scratch, { vscodeOptions: ['enable-smoke-test-driver'] });
    try {
      const remote = (path: string): string => `vscode-remote://127.0.0.1:${server.port}${path}`;
      const payload = [
        ['extensionDevelopmentPath', remote(repoRoot)],
        ['extensionTestsPath', remote(join(repoRoot, 'out', 'test', 'suite', 'index.cjs'))],
        ['extensionEnvironment', JSON.stringify({ OLLAMA_BATCH_HOME: scratch.dataDir })],
      ];
      const browser = await launchChromium(scratch);
      try {
        const page = browser.pages()[0] ?? (await browser.newPage());
        const exited = new Promise<number>((resolve) => {
          // printf-style arguments, as the extension host's console calls were made.
          void page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) =>
            (type === 'error' ? console.error : console.log)(format(...args)),
          );
          void page.exposeFunction('codeAutomationExit', (exitCode: number) => resolve(exitCode));
        });
        await page.goto(workbenchUrl(server, scratch.workspace, { payload: JSON.stringify(payload) }));
        let timer: NodeJS.Timeout | undefined;
        code = await Promise.race([
          exited,
          new Promise<number>((resolve) => {
            timer = setTimeout(() => {
              console.error(`the suite did not finish within ${SUITE_TIMEOUT_MS / 60_000} minutes`);
              resolve(1);
            }, SUITE_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
      } finally {
        await browser.close();
      }
    } finally {
      await server.close();
    }
  } finally {
    await disposeScratch(scratch, { keep: code !== 0 });
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

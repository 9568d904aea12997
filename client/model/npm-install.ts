// Install Embedded Engine's npm run, apart from VS Code (client/embedded-engine.ts wraps it in a
// progress notification): node-llama-cpp at the pinned version into a folder of its own, with the
// npm of the user's Node.js.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

export const PACKAGE = 'node-llama-cpp';

/**
 * node-llama-cpp's CPU build for each platform (its optional dependencies, named as it names
 * them). The engine runs with `gpu: false`, so the CUDA and Vulkan builds npm would add on Linux
 * and Windows (about 650 MB on Linux x64, against 85 MB in all) are left out.
 */
const CPU_BUILDS: Record<string, string> = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'linux-arm': 'linux-armv7l',
  'darwin-x64': 'mac-x64',
  'darwin-arm64': 'mac-arm64-metal',
  'win32-x64': 'win-x64',
  'win32-arm64': 'win-arm64',
};

export const NPM_MISSING =
  'installing the embedded engine takes npm, which comes with Node.js, and there is none on the PATH: install Node.js from nodejs.org and run Install Embedded Engine again, or use the ollama engine.';

export interface InstallLog {
  info(message: string): void;
  warn(message: string): void;
}

/** What it takes of a vscode.CancellationToken. */
export interface Cancellation {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): unknown };
}

/**
 * npm into `<folder>.partial`, renamed to `folder` once complete, so the daemon never finds half an
 * install; then the folders of other versions go. False when cancelled. No install scripts:
 * node-llama-cpp's would try a source build where no prebuilt binary fits, and the daemon asks for
 * prebuilt binaries only.
 */
export async function npmInstall(
  folder: string,
  version: string,
  log: InstallLog,
  cancellation: Cancellation,
): Promise<boolean> {
  const partial = `${folder}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const cpuBuild = CPU_BUILDS[`${process.platform}-${process.arch}`];
  const dependencies = { [PACKAGE]: version, ...(cpuBuild && { [`@${PACKAGE}/${cpuBuild}`]: version }) };
  await writeFile(join(partial, 'package.json'), JSON.stringify({ private: true, dependencies }, null, 2));
  const args = [
    'install',
    '--ignore-scripts',
    '--omit=dev',
    // Without a known CPU build, npm picks node-llama-cpp's optional builds for the platform.
    ...(cpuBuild ? ['--omit=optional'] : []),
    // The binaries must fit the daemon's runtime (VS Code's own), whichever Node runs npm.
    `--os=${process.platform}`,
    `--cpu=${process.arch}`,
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
  ];
  log.info(`npm ${args.join(' ')} in ${partial}`);
  // npm is npm.cmd on Windows, which only a shell runs.
  const child = spawn('npm', args, {
    cwd: partial,
    shell: process.platform === 'win32',
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
  let lastLine = '';
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (line) => {
      log.info(`npm: ${line}`);
      if (line.trim()) lastLine = line.trim();
    });
  const cancel = cancellation.onCancellationRequested(() => child.kill());
  try {
    const [code] = (await once(child, 'close').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new Error(NPM_MISSING) : error;
    })) as [number | null];
    if (cancellation.isCancellationRequested) {
      log.info('the install of the embedded engine was cancelled');
      return false;
    }
    // cmd.exe's code for a command it does not know.
    if (process.platform === 'win32' && code === 9009) throw new Error(NPM_MISSING);
    if (code !== 0)
      throw new Error(
        `npm install ${PACKAGE}@${version} failed (exit code ${code}): ${lastLine} (the Ollama Batch log has all npm said)`,
      );
    await rm(folder, { recursive: true, force: true });
    await rename(partial, folder);
    log.info(`installed ${PACKAGE} ${version} into ${folder}`);
    await removeOtherVersions(folder, log);
    return true;
  } finally {
    cancel.dispose();
    await rm(partial, { recursive: true, force: true });
  }
}

/** Installs of versions an older extension pinned. One a running daemon still holds open (Windows) stays. */
async function removeOtherVersions(folder: string, log: InstallLog): Promise<void> {
  for (const name of await readdir(dirname(folder))) {
    if (!name.startsWith(`${PACKAGE}-`) || name === basename(folder)) continue;
    await rm(join(dirname(folder), name), { recursive: true, force: true }).catch((error: unknown) =>
      log.warn(`could not remove ${name}: ${error instanceof Error ? error.message : String(error)}`),
    );
  }
}

// A throwaway world for one VS Code run, so nothing touches the user's settings, extensions or
// batches: a data dir whose config.json selects the llama-cpp engine on the tiny model, a
// workspace with sample data, VS Code's user data and extensions dirs, and XDG dirs.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { processAlive, readLock } from '../../server/daemon-access/local-daemon.js';
import { writeCandidatesCsv } from '../fixtures/recruiting/candidates.js';
import { SAMPLE_JOB } from '../fixtures/recruiting/sample-job.js';
import { batchLines } from '../support/batch-files.js';
import { tinyModelPath } from '../support/models.js';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Lines of the workspace's sample.jsonl (the suite's run-batch test counts on it). */
export const SAMPLE_LINES = 3;

export interface Scratch {
  root: string;
  /** OLLAMA_BATCH_HOME for the extension and the daemons it starts. */
  dataDir: string;
  workspace: string;
  userDataDir: string;
  extensionsDir: string;
  modelPath: string;
  /** XDG dirs and OLLAMA_BATCH_HOME, for VS Code and everything it starts. */
  env: Record<string, string>;
}

const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'git.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
};

export async function makeScratch(kind: string, { candidates = 0 } = {}): Promise<Scratch> {
  // Short and under /tmp: the daemon's Unix socket path must stay under 108 bytes.
  const root = await mkdtemp(join(tmpdir(), `ob-${kind}-`));
  const scratch: Scratch = {
    root,
    dataDir: join(root, 'data'),
    workspace: join(root, 'workspace'),
    userDataDir: join(root, 'user-data'),
    extensionsDir: join(root, 'extensions'),
    modelPath: await tinyModelPath(),
    env: {},
  };
  scratch.env = {
    OLLAMA_BATCH_HOME: scratch.dataDir,
    XDG_CONFIG_HOME: join(root, 'xdg', 'config'),
    XDG_DATA_HOME: join(root, 'xdg', 'data'),
    XDG_CACHE_HOME: join(root, 'xdg', 'cache'),
  };
  for (const dir of [
    scratch.dataDir,
    join(scratch.workspace, '.vscode'),
    join(scratch.userDataDir, 'User'),
    scratch.extensionsDir,
    ...Object.values(scratch.env),
  ]) {
    await mkdir(dir, { recursive: true });
  }
  // What the daemon reads; port 0: a daemon the developer runs keeps its HTTP port.
  await writeJson(join(scratch.dataDir, 'config.json'), {
    engine: 'llama-cpp',
    modelPath: scratch.modelPath,
    threads: 1,
    concurrency: 2,
    port: 0,
  });
  // The same through the extension's settings, for when it passes them to the daemon it starts.
  await writeJson(join(scratch.workspace, '.vscode', 'settings.json'), {
    'ollamaBatch.engine': 'llama-cpp',
    'ollamaBatch.modelPath': scratch.modelPath,
  });
  await writeJson(join(scratch.userDataDir, 'User', 'settings.json'), USER_SETTINGS);
  await writeFile(join(scratch.workspace, 'sample.jsonl'), batchLines(SAMPLE_LINES, { model: 'tiny', maxTokens: 8 }));
  if (candidates > 0) await addCandidates(scratch.workspace, candidates);
  return scratch;
}

/** The recruiter's inputs: a candidates CSV, the rubric, the template and the answer schema. */
async function addCandidates(workspace: string, rows: number): Promise<void> {
  await writeCandidatesCsv(join(workspace, 'candidates.csv'), { rows });
  for (const path of Object.values(SAMPLE_JOB)) await copyFile(path, join(workspace, basename(path)));
}

/** Stops every daemon started under the scratch root (the extension's run detached), then removes it. */
export async function disposeScratch(scratch: Scratch, { keep = false } = {}): Promise<void> {
  // SIGTERM, not `ollama-batch stop`: it also ends a daemon still starting, whose socket is not up.
  for (const pid of await daemonsUnder(scratch.root)) if (processAlive(pid)) await terminate(pid);
  if (keep) console.log(`scratch kept for a look: ${scratch.root}`);
  else await rm(scratch.root, { recursive: true, force: true });
}

/**
 * The daemons of data dirs under `root`: those their lock files name and, where /proc tells
 * command lines, those so young they hold no lock yet (a run cut short leaves such ones).
 */
async function daemonsUnder(root: string): Promise<Set<number>> {
  const pids = new Set<number>();
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const pid = entry.isDirectory() ? readLock(join(root, entry.name))?.pid : undefined;
    if (pid !== undefined) pids.add(pid);
  }
  const processes = await readdir('/proc').catch(() => []);
  for (const name of processes.filter((entry) => /^\d+$/.test(entry))) {
    const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const flag = argv.indexOf('--data-dir');
    if (argv.includes('serve') && flag >= 0 && argv[flag + 1]?.startsWith(`${root}/`)) pids.add(Number(name));
  }
  return pids;
}

async function terminate(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  // Another process's exit has no event to wait on.
  for (const deadline = Date.now() + 30_000; processAlive(pid);) {
    if (Date.now() > deadline) throw new Error(`daemon pid ${pid} did not stop within 30 s of SIGTERM`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function writeJson(path: string, value: unknown): Promise<void> {
  return writeFile(path, JSON.stringify(value, null, 2) + '\n');
}

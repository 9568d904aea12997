// One daemon per data dir, whatever happens to its socket: a live daemon's lock is never taken
// over (a second start says who holds it and how to end it), the owner listens again when its
// socket file vanishes, and a socket too long for the data dir goes to a folder only its user
// can write, so no other user can squat it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { socketAnswers } from '../../server/daemon/lock.js';
import * as protocol from '../../server/protocol/methods.js';
import { lockPath, READY_LINE, readLock } from '../../server/daemon-access/local-daemon.js';
import { connectDaemon } from '../../server/rpc/client.js';
import { tempDir } from '../support/batch-files.js';
import { CLI, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

type ServeOutcome = { ready: true; child: ChildProcess } | { ready: false; code: number | null; stderr: string };

/** `ollama-batch serve` in a child with this environment, until it says it is ready or exits. */
async function serve(dataDir: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServeOutcome> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve) => {
    lines.on('line', (line) => line.startsWith(READY_LINE) && resolve({ ready: true, child }));
    child.once('exit', (code) => resolve({ ready: false, code, stderr }));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** Resolves once `check` holds, asking every 100 ms; fails after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await check());) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const octal = (mode: number): string => (mode & 0o777).toString(8);

describe('one daemon per data dir', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  const children: ChildProcess[] = [];
  let first: DaemonProcess | undefined;

  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
  });
  afterEach(async () => {
    await first?.stop();
    first = undefined;
    await Promise.all(children.splice(0).map(stop));
  });
  after(() => emulator.close());

  it('refuses a second daemon while the first runs without its socket, and the first listens again', async () => {
    const dataDir = tempDir();
    first = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url]);
    const lock = readLock(dataDir)!;
    // The first has run for an hour: what makes it live is its process, not its age.
    writeFileSync(lockPath(dataDir), JSON.stringify({ ...lock, startedAt: lock.startedAt - 3_600_000 }));
    unlinkSync(lock.socket);

    const second = await serve(dataDir, ['--ollama-url', emulator.url]);
    if (second.ready) children.push(second.child);
    assert.ok(!second.ready, 'a second daemon started on the same data dir');
    assert.notEqual(second.code, 0);
    const pid = first.child.pid!;
    assert.match(second.stderr, new RegExp(`already runs for this data dir \\(pid ${pid}\\b`));
    assert.match(second.stderr, new RegExp(`ollama-batch stop.*kill ${pid}\\b`));

    await until('the first daemon answers on its socket again', () => socketAnswers(lock.socket));
    const client = (await connectDaemon(dataDir))!;
    try {
      assert.equal((await client.sendRequest(protocol.DaemonStatusRequest.type)).pid, pid);
    } finally {
      client.dispose();
    }
  });

  it('takes over the lock of a process that is not the daemon that wrote it (its pid reused)', async function () {
    if (process.platform !== 'linux') this.skip(); // process start times come from /proc
    const dataDir = tempDir();
    // This test's own process is alive, but it is not the process that wrote the lock: it started at another time.
    writeFileSync(
      lockPath(dataDir),
      JSON.stringify({
        pid: process.pid,
        socket: join(dataDir, 'daemon.sock'),
        startedAt: Date.now(),
        processStart: '1',
      }),
    );
    first = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url]);
    assert.equal(readLock(dataDir)!.pid, first.child.pid);
  });

  describe('a data dir whose path is too long for a socket inside it', () => {
    const longDataDir = (): string => join(tempDir(), 'a-data-dir-with-a-long-name-'.repeat(4));
    const environment = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
      const { XDG_RUNTIME_DIR: _runtime, ...rest } = process.env;
      return { ...rest, ...extra };
    };

    it('listens in a 0700 folder of its user in the temp dir, whatever another user left at the old shared path', async function () {
      if (process.platform === 'win32') this.skip();
      const tmp = tempDir();
      const dataDir = longDataDir();
      // Once the socket was <tmp>/ollama-batch-<hash>.sock, open to anyone: an entry there that
      // this user cannot remove (another user's) stopped the daemon.
      const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
      mkdirSync(join(tmp, `ollama-batch-${hash}.sock`, 'squatter'), { recursive: true });
      const started = await serve(dataDir, ['--ollama-url', emulator.url], environment({ TMPDIR: tmp }));
      assert.ok(started.ready, started.ready ? '' : started.stderr);
      children.push(started.child);
      const socket = readLock(dataDir)!.socket;
      assert.equal(dirname(socket), join(tmp, `ollama-batch-${process.getuid!()}`));
      assert.equal(octal(statSync(dirname(socket)).mode), '700');
      assert.ok(await socketAnswers(socket));
    });

    it('listens in $XDG_RUNTIME_DIR/ollama-batch when it is set', async function () {
      if (process.platform === 'win32') this.skip();
      const runtime = tempDir();
      chmodSync(runtime, 0o700);
      const dataDir = longDataDir();
      const started = await serve(dataDir, ['--ollama-url', emulator.url], environment({ XDG_RUNTIME_DIR: runtime }));
      assert.ok(started.ready, started.ready ? '' : started.stderr);
      children.push(started.child);
      const socket = readLock(dataDir)!.socket;
      assert.equal(dirname(socket), join(runtime, 'ollama-batch'));
      assert.equal(octal(statSync(dirname(socket)).mode), '700');
      assert.ok(await socketAnswers(socket));
    });

    it('refuses a socket folder that others can write, naming it', async function () {
      if (process.platform === 'win32') this.skip();
      const tmp = tempDir();
      const folder = join(tmp, `ollama-batch-${process.getuid!()}`);
      mkdirSync(folder);
      chmodSync(folder, 0o777);
      const started = await serve(longDataDir(), ['--ollama-url', emulator.url], environment({ TMPDIR: tmp }));
      if (started.ready) children.push(started.child);
      assert.ok(!started.ready, 'the daemon listened in a folder others can write');
      assert.equal(started.code, 1);
      assert.ok(started.stderr.includes(folder), started.stderr);
      assert.match(started.stderr, /must be a folder of yours that others cannot write/);
    });
  });
});

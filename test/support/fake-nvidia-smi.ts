// A fake nvidia-smi for tests: a shell script that checks it was asked the documented query and
// prints what the test wrote for it (readings, a failure, a delay), counting its calls.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The query as documented, written out here so the test checks it rather than repeats it. */
export const QUERY = '--query-gpu=index,name,memory.used,memory.total,utilization.gpu --format=csv,noheader,nounits';

const FAKE_SCRIPT = `#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
if [ "$*" != "${QUERY}" ]; then echo "unexpected arguments: $*" >&2; exit 2; fi
[ -f "$dir/delay" ] && exec sleep "$(cat "$dir/delay")"
cat "$dir/reading"
exit "$(cat "$dir/exit-code" 2>/dev/null || echo 0)"
`;

/** A fake nvidia-smi in its own temp dir; what it prints next is set through the methods. */
export class FakeNvidiaSmi {
  private constructor(readonly dir: string) {}
  get path(): string {
    return join(this.dir, 'nvidia-smi');
  }

  static async create(): Promise<FakeNvidiaSmi> {
    const fake = new FakeNvidiaSmi(await mkdtemp(join(tmpdir(), 'fake-nvidia-smi-')));
    await fake.install();
    await fake.show([
      [12_000, 16_376],
      [1_024, 81_920],
    ]);
    return fake;
  }

  /** Writes the script (to `path` in the same dir, so its calls are counted here too). */
  async install(path = this.path): Promise<void> {
    await writeFile(path, FAKE_SCRIPT);
    await chmod(path, 0o755);
  }

  /** Two documented GPU lines (or as many as given), used and total MiB each. */
  show(readings: [used: number, total: number][]): Promise<void> {
    const names = ['NVIDIA GeForce RTX 4080', 'NVIDIA A100-SXM4-80GB'];
    return this.print(
      readings.map(([used, total], i) => `${i}, ${names[i] ?? 'GPU'}, ${used}, ${total}, ${30 + i}`).join('\n') + '\n',
    );
  }

  async print(text: string, exitCode = 0): Promise<void> {
    await writeFile(join(this.dir, 'reading'), text);
    await writeFile(join(this.dir, 'exit-code'), String(exitCode));
  }

  delay(seconds: number): Promise<void> {
    return writeFile(join(this.dir, 'delay'), String(seconds));
  }

  /** The argument lines of every call so far. */
  async calls(): Promise<string[]> {
    const text = await readFile(join(this.dir, 'calls'), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean);
  }

  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

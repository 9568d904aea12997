// A clone with nothing beside it must pass its tests: no tracked file may reach a sibling folder
// of the checkout (a developer's shared data) or name an absolute path of someone's machine.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Tracked files, the lock file aside (registry URLs only). */
function trackedFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' }).split('\0');
  return listed.filter((path) => path && path !== 'package-lock.json' && !/\.(png|svg|gguf)$/.test(path));
}

/** `file: line` for each line of a tracked file that matches. */
function offending(pattern: RegExp): string[] {
  const found: string[] = [];
  for (const path of trackedFiles()) {
    const lines = readFileSync(join(repoRoot, path), 'utf8').split('\n');
    lines.forEach(
      (line, index) => pattern.test(line) && found.push(`${path}:${index + 1}: ${line.trim().slice(0, 120)}`),
    );
  }
  return found;
}

describe('the repository is self-contained', () => {
  it('has no path into a folder beside the checkout', () => {
    // Built from parts, so this file does not name what it looks for.
    const sibling = new RegExp(['\\.\\./', '(\\.\\./)*', 'shared', '\\b'].join(''));
    assert.deepEqual(offending(sibling), []);
  });

  it("names no absolute path of a machine: not the checkout's parent, nor a home folder", () => {
    const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.deepEqual(offending(new RegExp(escape(`${dirname(repoRoot)}/`))), []);
    assert.deepEqual(offending(/(^|[\s'"`(=])\/(home|Users)\/[A-Za-z]|(^|[\s'"`(=])\/root\//), []);
  });
});

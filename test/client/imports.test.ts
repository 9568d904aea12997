// DESIGN.md's import rules, checked on the source: the extension reaches the daemon's code only
// through the protocol module, and the webview scripts know only their own folder. Both may use
// server/common/, pure helpers that import nothing.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// `from '…'`, `import '…'` and `import('…')`.
const SPECIFIER = /\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g;

/** Every relative import of the .ts files under `dir`, as repository paths with `/`. */
function importsUnder(dir: string): Array<{ file: string; target: string }> {
  const found: Array<{ file: string; target: string }> = [];
  for (const entry of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.ts')) continue;
    const path = join(root, dir, entry);
    for (const [, specifier] of readFileSync(path, 'utf8').matchAll(SPECIFIER)) {
      if (!specifier!.startsWith('.')) continue;
      found.push({ file: relative(root, path).split(sep).join('/'), target: relative(root, resolve(dirname(path), specifier!)).split(sep).join('/') });
    }
  }
  return found;
}

describe('import rules', () => {
  it('client/ imports server/ only from server/protocol/ and server/common/', () => {
    const imports = importsUnder('client');
    assert.ok(imports.some(({ target }) => target.startsWith('server/protocol/')), 'the scan found no import of the protocol module');
    const outside = imports.filter(({ target }) => target.startsWith('server/') && !target.startsWith('server/protocol/') && !target.startsWith('server/common/'));
    assert.deepEqual(outside.map(({ file, target }) => `${file} imports ${target}`), []);
  });

  it('the webview scripts import nothing outside client/webview/ but server/common/', () => {
    const outside = importsUnder('client/webview').filter(({ target }) => !target.startsWith('client/webview/') && !target.startsWith('server/common/'));
    assert.deepEqual(outside.map(({ file, target }) => `${file} imports ${target}`), []);
  });
});

// The import specifiers of the repository's TypeScript files, as TypeScript's own scanner finds
// them: `import` and `export … from` (type-only ones included), `import '…'`, `import('…')`,
// `require('…')` and import types. For the tests of DESIGN.md's import rules.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Import {
  /** The importing file, as a repository path with `/`. */
  file: string;
  /** As written. */
  specifier: string;
  /** A relative specifier as a repository path with `/`; null for a package. */
  target: string | null;
}

/** Every import of the source text of `file` (a repository path). */
export function importsOfSource(file: string, source: string): Import[] {
  return ts.preProcessFile(source, true, true).importedFiles.map(({ fileName: specifier }) => ({
    file,
    specifier,
    target: specifier.startsWith('.')
      ? relative(root, resolve(root, dirname(file), specifier))
          .split(sep)
          .join('/')
      : null,
  }));
}

/** Every import of the .ts files under `dir` (a repository path). */
export function importsUnder(dir: string): Import[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((entry) => entry.endsWith('.ts'))
    .flatMap((entry) => {
      const file = [dir, ...entry.split(sep)].join('/');
      return importsOfSource(file, readFileSync(join(root, file), 'utf8'));
    });
}

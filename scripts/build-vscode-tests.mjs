// Bundles the extension-host suite for VS Code to load: test/vscode/suite/index.ts (mocha's
// runner, bundled in, since mocha 12 is ESM and a desktop VS Code's Node cannot require() it)
// and each *.test.ts beside it, as CommonJS into out/test/suite/, with `vscode` external.
import { readdirSync } from 'node:fs';
import * as esbuild from 'esbuild';

const suite = 'test/vscode/suite';
const tests = readdirSync(suite).filter((name) => name.endsWith('.test.ts'));

await esbuild.build({
  entryPoints: [`${suite}/index.ts`, ...tests.map((name) => `${suite}/${name}`)],
  outdir: 'out/test/suite',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  sourcemap: 'inline',
  logLevel: 'warning',
  // mocha's parallel mode (unused here) resolves its worker files at run time.
  logOverride: { 'require-resolve-not-external': 'silent' },
});

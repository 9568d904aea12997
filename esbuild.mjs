// One build, three bundles: the VS Code extension (cjs, `vscode` external), the daemon and CLI
// (ESM for node; node-llama-cpp stays external and is loaded with a dynamic import only when
// chosen), and the webview scripts (browser, into media/). Type checking is `npm run typecheck`.
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
};

const contexts = [
  {
    ...common,
    entryPoints: ['client/extension.ts'],
    outfile: 'dist/extension.cjs',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    ...common,
    entryPoints: { cli: 'server/cli/main.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    // Chunks for what commands import on demand: the daemon, the tokenizer (70 MB parsed), the
    // CSV and analysis code; `status` or `--help` loads none of it.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['node-llama-cpp'],
    // Bundled CommonJS dependencies call require() for node built-ins (in every chunk).
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
    },
  },
  {
    ...common,
    // One script per panel; the CSS a script imports (uPlot's) lands beside it as <name>.css.
    entryPoints: { metrics: 'client/webview/metrics.ts', results: 'client/webview/results.ts' },
    outdir: 'media/webview',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];

const built = await Promise.all(contexts.map((options) => esbuild.context(options)));
if (watch) {
  await Promise.all(built.map((context) => context.watch()));
  console.log('esbuild: watching for changes');
} else {
  await Promise.all(built.map((context) => context.rebuild()));
  await Promise.all(built.map((context) => context.dispose()));
}

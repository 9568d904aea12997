// One build, four bundles: the VS Code extension (cjs, `vscode` external) and its language client
// (loaded when it connects), the daemon and CLI (ESM for node; node-llama-cpp stays external and
// is loaded with a dynamic import only when chosen), and the webview scripts (browser, into
// media/). Type checking is `npm run typecheck`.
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
};

/**
 * For dist/language-client.cjs: `vscode-jsonrpc` is the extension bundle's own copy (its
 * `sharedModules`), not a second one. The protocol's request types are made with that copy, and
 * vscode-jsonrpc tells its parameter structures apart by identity.
 */
const jsonrpcOfTheExtension = {
  name: 'jsonrpc-of-the-extension',
  setup(build) {
    build.onResolve({ filter: /^vscode-jsonrpc(\/node)?$/ }, ({ path }) => ({ path, namespace: 'extension-bundle' }));
    build.onResolve({ filter: /^\.\/extension\.cjs$/ }, ({ path }) => ({ path, external: true }));
    build.onLoad({ filter: /.*/, namespace: 'extension-bundle' }, ({ path }) => ({
      contents: `module.exports = require('./extension.cjs').sharedModules[${JSON.stringify(path)}];`,
      loader: 'js',
    }));
  },
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
    // The language client: loaded when the connection starts, so activation compiles a quarter
    // of the code (client/language-client.ts).
    entryPoints: ['client/language-client.ts'],
    outfile: 'dist/language-client.cjs',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    plugins: [jsonrpcOfTheExtension],
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

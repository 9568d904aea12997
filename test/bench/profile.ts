// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, mapped back to
// the TypeScript source through dist/cli.mjs.map where the function lives in the bundle.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CLI } from '../support/daemon-process.js';
import { repoRoot } from './children.js';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

let bundleMap: SourceMap | null | undefined;
const bundleUrl = pathToFileURL(CLI).href;

function sourceMap(): SourceMap | null {
  if (bundleMap === undefined) {
    const path = `${CLI}.map`;
    bundleMap = existsSync(path)
      ? new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as ConstructorParameters<typeof SourceMap>[0])
      : null;
  }
  return bundleMap;
}

function where(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return '(native)';
  if (frame.url === bundleUrl) {
    const entry = sourceMap()?.findEntry(frame.lineNumber, frame.columnNumber);
    if (entry && 'originalSource' in entry && entry.originalSource) {
      const source = entry.originalSource.startsWith('file:')
        ? fileURLToPath(entry.originalSource)
        : join(repoRoot, 'dist', entry.originalSource);
      return `${relative(repoRoot, source)}:${entry.originalLine + 1}`;
    }
  }
  const path = frame.url.startsWith('file:') ? relative(repoRoot, fileURLToPath(frame.url)) : frame.url;
  return `${path}:${frame.lineNumber + 1}`;
}

/** The `top` functions by self time in one profile. */
export function hotFunctions(path: string, top = 25): { totalMs: number; functions: HotFunction[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i]!;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
    }
  }
  const totals = new Map<string, HotFunction>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') continue; // waiting in the event loop: not work
    total += us;
    const location = where(node.callFrame);
    const key = `${name} ${location}`;
    const entry = totals.get(key) ?? { name, where: location, selfMs: 0, share: 0 };
    entry.selfMs += us / 1000;
    totals.set(key, entry);
  }
  const functions = [...totals.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  for (const entry of functions) entry.share = total > 0 ? (entry.selfMs * 1000) / total : 0;
  return { totalMs: total / 1000, functions };
}

/** Self time summed per source file (bundle locations mapped to the TypeScript files). */
export function hotFiles(path: string, top = 15): Array<{ file: string; selfMs: number; share: number }> {
  const { functions, totalMs } = hotFunctions(path, Number.MAX_SAFE_INTEGER);
  const files = new Map<string, number>();
  for (const entry of functions) {
    const file = entry.where.replace(/:\d+$/, '');
    files.set(file, (files.get(file) ?? 0) + entry.selfMs);
  }
  return [...files.entries()]
    .map(([file, selfMs]) => ({ file, selfMs, share: totalMs > 0 ? selfMs / totalMs : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top);
}

/** `node:internal/streams/readable`, or the package name for a file under node_modules. */
function moduleOf(location: string): string {
  const path = location.replace(/:\d+$/, '');
  if (path.startsWith('node:')) return path;
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return inPackage ? inPackage[1]! : path;
}

/**
 * Sampled time by owner: the innermost daemon function (server/*.ts) on the stack, so that the
 * cost of library and Node internals lands on the daemon code that called them. Samples without
 * a server/ frame count under their module; writev and the garbage collector stand alone
 * (writev's samples are mostly time the thread was preempted after waking the peer, not CPU).
 */
export function ownerCosts(path: string, top = 25): Array<{ owner: string; ms: number; share: number }> {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const ownerOf = new Map<number, string>();
  const owner = (id: number): string => {
    const known = ownerOf.get(id);
    if (known) return known;
    const leaf = byId.get(id)!;
    let found: string | undefined;
    if (['writev', '(garbage collector)', '(program)'].includes(leaf.callFrame.functionName))
      found = leaf.callFrame.functionName;
    let module: string | undefined;
    for (let current: number | undefined = id; !found && current !== undefined; current = parent.get(current)) {
      const node = byId.get(current)!;
      const location = where(node.callFrame);
      if (location.startsWith('server/')) found = `${node.callFrame.functionName || '(anonymous)'} ${location}`;
      else if (!module && node.callFrame.url) module = moduleOf(location);
    }
    found ??= `(outside server/) ${module ?? leaf.callFrame.functionName}`;
    ownerOf.set(id, found);
    return found;
  };
  const totals = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < (profile.samples?.length ?? 0); i++) {
    const id = profile.samples![i]!;
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    const us = Math.max(0, profile.timeDeltas![i] ?? 0);
    total += us;
    const key = owner(id);
    totals.set(key, (totals.get(key) ?? 0) + us);
  }
  return [...totals.entries()]
    .map(([key, us]) => ({ owner: key, ms: us / 1000, share: total > 0 ? us / total : 0 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
}

export function profilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(dir, name));
}

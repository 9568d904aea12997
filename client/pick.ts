// What a command works on: the argument a menu, the tree or a code lens passed, else the active
// editor, else what the user picks.
import * as vscode from 'vscode';
import type { Batch } from '../server/protocol/openai.js';
import { BatchGetRequest } from '../server/protocol/methods.js';
import type { BatchesTree } from './batches-tree.js';
import type { Ctx } from './ctx.js';
import { batchDescription, batchLabel } from './model/format.js';

/**
 * Every quick pick and input box of the extension stays open when the focus moves; Escape closes
 * it. Closing the palette hands the focus back to the active editor, and a webview there takes it
 * a moment later, which closed the pick the command had just opened (vscode#93950). Nor should a
 * stray click lose a step of a guided flow.
 */
export const STAY_OPEN = { ignoreFocusOut: true } as const;

/** A code lens passes the document's uri as a string (LSP commands carry JSON), menus a Uri. */
function uriArgument(argument: unknown): vscode.Uri | undefined {
  if (argument instanceof vscode.Uri) return argument;
  if (typeof argument === 'string' && argument !== '') return vscode.Uri.parse(argument);
  return undefined;
}

/** The argument's file, else the active editor's if it ends with the extension, else one picked. */
export async function pickFile(
  argument: unknown,
  extension: string,
  dialog: { title: string; openLabel: string; filter: string },
): Promise<vscode.Uri | undefined> {
  const given = uriArgument(argument);
  if (given) return given;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && active.path.toLowerCase().endsWith(`.${extension}`)) return active;
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { [dialog.filter]: [extension] },
    openLabel: dialog.openLabel,
    title: `Ollama Batch: ${dialog.title}`,
  });
  return picked?.[0];
}

/** Files this large are not read to see whether they fit a step (a rubric or schema is small). */
const MAX_OFFERED_BYTES = 512 * 1024;
/** At most this many files are looked at. */
const MAX_OFFERED_FILES = 200;

/**
 * The workspace's files matching `glob` whose text `fits` (a rubric, a template, a schema), by
 * path: what a step offers before a file dialog.
 */
export async function workspaceFiles(glob: string, fits: (text: string) => boolean): Promise<vscode.Uri[]> {
  const found = await vscode.workspace.findFiles(glob, '**/{node_modules,.git}/**', MAX_OFFERED_FILES);
  const fitting = await Promise.all(
    found.map(async (uri) => {
      try {
        if ((await vscode.workspace.fs.stat(uri)).size > MAX_OFFERED_BYTES) return null;
        return fits(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri))) ? uri : null;
      } catch {
        return null; // gone or unreadable since it was listed: not offered
      }
    }),
  );
  return fitting.filter((uri) => uri !== null).sort((a, b) => a.path.localeCompare(b.path));
}

/** The batch the argument names (a tree item passes its id), else one picked from those that `fits`. */
export async function pickBatch(
  ctx: Ctx,
  tree: BatchesTree,
  argument: unknown,
  fits: (batch: Batch) => boolean,
  placeHolder: string,
): Promise<Batch | undefined> {
  if (typeof argument === 'string') {
    const known = tree.batches.get(argument);
    if (known) return known;
    const client = await ctx.requireClient();
    return client && (await client.sendRequest(BatchGetRequest.type, { id: argument }));
  }
  // The batches as last seen may be none (no daemon since the window opened): the command needs the daemon anyway.
  if (!ctx.client) {
    if (!(await ctx.requireClient())) return undefined;
    await tree.refresh();
  }
  const candidates = tree.batches
    .ids()
    .map((id) => tree.batches.get(id)!)
    .filter(fits);
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(`Ollama Batch: no batch to choose from (${placeHolder.toLowerCase()}).`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((batch) => ({
      label: batchLabel(batch),
      description: batchDescription(batch, tree.batches.pace(batch.id)),
      detail: batch.id,
      batch,
    })),
    { ...STAY_OPEN, placeHolder, matchOnDetail: true },
  );
  return picked?.batch;
}

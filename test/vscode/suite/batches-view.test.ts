// The views package.json contributes (the Batches tree) open in the workbench.
import * as vscode from 'vscode';
import { activeExtension, contributes } from './support.js';

describe('views', () => {
  it('opens every contributed ollamaBatch view', async function () {
    const views = Object.values(contributes(await activeExtension()).views ?? {}).flat();
    if (views.length === 0) this.skip(); // none contributed yet
    // VS Code registers `<view id>.focus` for each contributed view; it fails for an unknown one.
    for (const { id } of views) await vscode.commands.executeCommand(`${id}.focus`);
  });
});

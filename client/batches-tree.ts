// The Batches view: every batch the daemon keeps, newest first, live from its notifications (no
// polling) and listed anew after every connect. The list lives here, not in the connection, so
// the tree survives a daemon restart. A batch reads as the file it ran and opens its metrics on
// click; its children are its files, which open on click. Ids are in the tooltips.
import * as vscode from 'vscode';
import type { Batch } from '../server/protocol/openai.js';
import { BatchListRequest, FileGetRequest } from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { BatchList } from './model/batch-list.js';
import { batchDescription, batchLabel, batchTooltip, contextValue, paceOf, statusIcon } from './model/format.js';
import { formatCount } from './webview/numbers.js';

const PAGE = 100;

/** A batch is its id: stable across updates, so one item can be refreshed alone. */
type BatchNode = string;

interface FileNode {
  batchId: string;
  role: 'input' | 'output' | 'errors';
  fileId: string;
}

type Node = BatchNode | FileNode;

const FILE_ROLES = {
  input: { label: 'Input', icon: 'file' },
  output: { label: 'Output', icon: 'output' },
  errors: { label: 'Errors', icon: 'warning' },
} as const;

export class BatchesTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  readonly batches = new BatchList();
  private readonly _onDidChangeTreeData = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  /** Changes announced while a listing is on its way: applied over it. */
  private announcedDuringRefresh: Map<string, Batch> | null = null;
  private readonly subscriptions: vscode.Disposable[];
  /**
   * The names of input files, by file id, for batches that came without a path in their
   * metadata (submitted over HTTP): asked of the daemon once each, as files never change.
   */
  private readonly inputNames = new Map<string, string | null>();

  constructor(private readonly ctx: Ctx) {
    this.subscriptions = [
      this._onDidChangeTreeData,
      ctx.onDidConnect(() => void this.refresh()),
      ctx.onDidChangeBatch((batch) => this.upsert(batch)),
      ctx.onDidReceiveMetrics(({ id, snapshot }) => {
        this.batches.setPace(id, paceOf(snapshot));
        if (this.batches.get(id)) this._onDidChangeTreeData.fire(id);
      }),
    ];
  }

  dispose(): void {
    vscode.Disposable.from(...this.subscriptions).dispose();
  }

  /** Lists every batch of the daemon, page by page. */
  async refresh(): Promise<void> {
    const client = this.ctx.client;
    if (!client) return;
    this.announcedDuringRefresh = new Map();
    try {
      const all: Batch[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await client.sendRequest(BatchListRequest.type, { limit: PAGE, ...(after && { after }) });
        all.push(...page.data);
        if (!page.has_more || !page.last_id) break;
        after = page.last_id;
      }
      this.batches.replace(all);
      for (const batch of this.announcedDuringRefresh.values()) this.batches.upsert(batch);
      this._onDidChangeTreeData.fire(undefined);
    } catch (error) {
      this.ctx.log.error('batch/list failed', error);
    } finally {
      this.announcedDuringRefresh = null;
    }
  }

  getChildren(node?: Node): Node[] {
    if (node === undefined) return [...this.batches.ids()];
    if (typeof node !== 'string') return [];
    const batch = this.batches.get(node);
    if (!batch) return [];
    const files: FileNode[] = [{ batchId: node, role: 'input', fileId: batch.input_file_id }];
    if (batch.output_file_id) files.push({ batchId: node, role: 'output', fileId: batch.output_file_id });
    if (batch.error_file_id) files.push({ batchId: node, role: 'errors', fileId: batch.error_file_id });
    return files;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (typeof node !== 'string') return this.fileItem(node);
    const batch = this.batches.get(node)!;
    const item = new vscode.TreeItem(
      batchLabel(batch, this.inputName(batch)),
      vscode.TreeItemCollapsibleState.Collapsed,
    );
    item.id = batch.id;
    item.command = { command: 'ollamaBatch.showMetrics', title: 'Show Metrics', arguments: [batch.id] };
    item.description = batchDescription(batch, this.batches.pace(batch.id));
    const icon = statusIcon(batch);
    item.iconPath = new vscode.ThemeIcon(
      icon.id,
      icon.color === undefined ? undefined : new vscode.ThemeColor(icon.color),
    );
    item.contextValue = contextValue(batch);
    return item;
  }

  /** The tooltip is made only when the pointer rests on an item. */
  resolveTreeItem(item: vscode.TreeItem, node: Node): vscode.TreeItem {
    if (typeof node !== 'string') return item;
    const batch = this.batches.get(node);
    if (batch)
      item.tooltip = new vscode.MarkdownString(batchTooltip(batch, this.batches.pace(batch.id), this.inputName(batch)));
    return item;
  }

  getParent(node: Node): Node | undefined {
    return typeof node === 'string' ? undefined : node.batchId;
  }

  private fileItem(node: FileNode): vscode.TreeItem {
    const role = FILE_ROLES[node.role];
    const item = new vscode.TreeItem(role.label, vscode.TreeItemCollapsibleState.None);
    item.id = `${node.batchId}/${node.role}`;
    const batch = this.batches.get(node.batchId);
    const count =
      node.role === 'output'
        ? batch?.request_counts.completed
        : node.role === 'errors'
          ? batch?.request_counts.failed
          : batch?.request_counts.total;
    const name = node.role === 'input' && batch ? batchLabel(batch, this.inputName(batch)) : undefined;
    item.description = [
      ...(name && name !== batch?.id ? [name] : []),
      ...(count === undefined ? [] : [`${formatCount(count)} lines`]),
    ].join(' · ');
    item.tooltip = node.fileId;
    item.iconPath = new vscode.ThemeIcon(role.icon);
    // No batch tags: the batch menus (`viewItem =~ /\boutput\b/`) must not match a file.
    item.contextValue = 'batchFile';
    item.command = { command: 'ollamaBatch.openBatchFile', title: 'Open', arguments: [node.fileId] };
    return item;
  }

  /** Forgets batches the daemon deleted. */
  remove(ids: readonly string[]): void {
    if (this.batches.remove(ids)) this._onDidChangeTreeData.fire(undefined);
  }

  /** The input file's name where the batch's metadata has no path; asked for once, shown when it comes. */
  private inputName(batch: Batch): string | undefined {
    if (batch.metadata?.input_path ?? batch.metadata?.source) return undefined;
    const id = batch.input_file_id;
    if (this.inputNames.has(id)) return this.inputNames.get(id) ?? undefined;
    this.inputNames.set(id, null);
    void this.ctx.client?.sendRequest(FileGetRequest.type, { id }).then(
      (file) => {
        this.inputNames.set(id, file.filename);
        this._onDidChangeTreeData.fire(undefined);
      },
      // Deleted or expired: the id stays the name.
      (error: unknown) => this.ctx.log.info(`file/get ${id}: ${String(error)}`),
    );
    return undefined;
  }

  private upsert(batch: Batch): void {
    this.announcedDuringRefresh?.set(batch.id, batch);
    const added = this.batches.upsert(batch);
    this._onDidChangeTreeData.fire(added ? undefined : batch.id);
  }
}

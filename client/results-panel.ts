// The results panel: a batch's AnalysisReport (histograms, decisions, top and bottom rows) and,
// when the answers were joined to their CSV, every row in a virtualised table. The webview asks
// for windows of rows as it scrolls; this side reads them from the scored CSV by position
// (CsvRows), sorts and filters by one column at a time, and finds a row's request and answer by
// custom_id in the batch's files (LineIndex). The table shows the id column first, then the
// answer's columns, then the source's; Export writes the rows as shown. The scored CSV here is
// the panel's own, written with cells as they are (not neutralised for spreadsheets: an export
// is). One panel; a new analysis replaces its content.
// The webview keeps the batch and its source CSV in its state: after a reload the serializer
// analyses them again (the report is not stored) and the panel comes back.
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { BatchGetRequest, FileGetRequest } from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { errorMessage } from './log.js';
import { CsvRows } from './model/csv-rows.js';
import { LineIndex } from '../server/daemon-access/line-index.js';
import { reportView, rowDetail, shownColumns } from './model/results-view.js';
import { formatCount } from './webview/numbers.js';
import { batchLabel } from './model/format.js';
import { analyze, type Analysis } from './results-analysis.js';
import {
  isFromResultsWebview,
  type FromResultsWebview,
  type ResultsState,
  type TableFilter,
  type TableSort,
  type TableView,
  type ToResultsWebview,
} from './webview/messages.js';
import { restoredState, webviewHtml, webviewOptions } from './webview-html.js';

export class ResultsPanel {
  static readonly viewType = 'ollamaBatch.results';
  private static current: ResultsPanel | undefined;

  private readonly _disposables: vscode.Disposable[] = [];
  private rows: CsvRows | null = null;
  private view: TableView | null = null;
  /** The scored CSV's columns in the order shown: shown column i is file column order[i]. */
  private order: number[] = [];
  /** The file's columns of the answer (sorted with invalid answers last), and of the status. */
  private answerColumns: number[] = [];
  private statusColumn: number | null = null;
  /** Request, output and error lines by custom_id, read on the first click. */
  private lineIndexes: Promise<LineIndex[]> | null = null;

  /** Shows the analysis in the panel, in `restored` when VS Code brought one back after a reload. */
  static async show(
    extension: vscode.ExtensionContext,
    ctx: Ctx,
    analysis: Analysis,
    restored?: vscode.WebviewPanel,
  ): Promise<void> {
    const rows = analysis.report.csv ? await CsvRows.open(analysis.report.csv.path) : null;
    const existing = ResultsPanel.current;
    if (existing) {
      restored?.dispose();
      await existing.load(analysis, rows);
      existing.panel.reveal();
      return;
    }
    const panel =
      restored ??
      vscode.window.createWebviewPanel(
        ResultsPanel.viewType,
        'Batch Results',
        vscode.ViewColumn.Active,
        webviewOptions(extension.extensionUri),
      );
    ResultsPanel.current = new ResultsPanel(panel, extension, ctx, analysis);
    await ResultsPanel.current.load(analysis, rows);
  }

  /** Takes over a panel that VS Code restores after a reload: its batch is analysed again. */
  static async revive(
    panel: vscode.WebviewPanel,
    extension: vscode.ExtensionContext,
    ctx: Ctx,
    state: unknown,
  ): Promise<void> {
    const kept = restoredState<ResultsState>(
      panel,
      extension.extensionUri,
      state,
      () => ResultsPanel.current !== undefined,
    );
    if (!kept) return;
    try {
      const client = await ctx.requireClient();
      const batch = await client?.sendRequest(BatchGetRequest.type, { id: kept.batchId });
      const analysis =
        batch && (await analyze(ctx, extension, batch, typeof kept.source === 'string' ? kept.source : null));
      if (analysis) {
        await ResultsPanel.show(extension, ctx, analysis, panel);
        return;
      }
    } catch (error) {
      ctx.log.error(`results panel: restoring ${kept.batchId}`, error);
      void vscode.window.showErrorMessage(
        `Ollama Batch: the results of ${kept.batchId} could not be shown again: ${errorMessage(error)}`,
      );
    }
    panel.dispose();
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extension: vscode.ExtensionContext,
    private readonly ctx: Ctx,
    private analysis: Analysis,
  ) {
    const { extensionUri } = extension;
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg');
    panel.webview.html = webviewHtml(panel.webview, extensionUri, {
      title: 'Batch Results',
      script: 'results',
      styles: ['metrics.css', 'results.css'],
      body: BODY,
    });
    panel.onDidDispose(() => this.dispose(), null, this._disposables);
    panel.webview.onDidReceiveMessage(
      (message: unknown) => {
        if (!isFromResultsWebview(message)) return;
        this.receive(message).catch((error: unknown) => {
          this.ctx.log.error(`results panel: ${message.type}`, error);
          this.post({ type: 'busy', message: null });
          void vscode.window.showErrorMessage(`Ollama Batch: ${errorMessage(error)}`);
        });
      },
      null,
      this._disposables,
    );
  }

  dispose(): void {
    ResultsPanel.current = undefined;
    void this.rows?.close();
    this.panel.dispose();
    vscode.Disposable.from(...this._disposables.splice(0)).dispose();
  }

  private async load(analysis: Analysis, rows: CsvRows | null): Promise<void> {
    await this.rows?.close();
    this.analysis = analysis;
    this.rows = rows;
    this.lineIndexes = null;
    this.panel.title = `Results ${batchLabel(analysis.batch)}`;
    // The source's id column, or the custom_id column the join adds when ids are row-N.
    const idColumn = analysis.report.csv?.custom_id_column ?? null;
    const added = analysis.report.csv?.added_columns ?? [];
    const columns = rows?.columns ?? [];
    this.order = shownColumns(columns, idColumn, added);
    // The join adds the answer's fields, then status and error (a cascade's pass 2 columns after).
    const status = added.findIndex((name) => /^status(_\d+)?$/.test(name));
    this.statusColumn = status === -1 ? null : columns.indexOf(added[status]!);
    this.answerColumns = added.slice(0, Math.max(0, status)).map((name) => columns.indexOf(name));
    this.view = rows && {
      version: (this.view?.version ?? 0) + 1,
      columns: this.order.map((index) => columns[index]!),
      rowCount: rows.totalRows,
      totalRows: rows.totalRows,
      sort: null,
      filter: null,
      idColumn: idColumn !== null && columns.includes(idColumn) ? 0 : null,
    };
    this.sendReport();
  }

  private sendReport(): void {
    const { batch, report, source } = this.analysis;
    this.post({
      type: 'report',
      report: reportView(report, `${batch.id}${batch.model ? ` · ${batch.model}` : ''}`),
      table: this.view,
      state: { batchId: batch.id, source },
    });
  }

  private async receive(message: FromResultsWebview): Promise<void> {
    switch (message.type) {
      case 'ready':
        return this.sendReport();
      case 'rows': {
        const { rows, view } = this;
        if (!rows || !view || message.version !== view.version) return;
        const cells = await rows.rows(message.start, message.count);
        this.post({
          type: 'rows',
          version: view.version,
          start: message.start,
          rows: cells.map((row) => this.order.map((index) => row[index] ?? '')),
        });
        return;
      }
      case 'view':
        return this.setView(message.sort, message.filter);
      case 'detail':
        this.post({ type: 'detail', detail: await this.detail(message.customId) });
        return;
      case 'export':
        return this.exportShown();
      case 'refresh':
        return this.refresh();
    }
  }

  /** The batch analysed again, as it stands now, joined to the same CSV. */
  private async refresh(): Promise<void> {
    const client = await this.ctx.requireClient();
    if (!client) return;
    const { batch, source } = this.analysis;
    const latest = await client.sendRequest(BatchGetRequest.type, { id: batch.id });
    const analysis = await analyze(this.ctx, this.extension, latest, source);
    if (analysis) await ResultsPanel.show(this.extension, this.ctx, analysis);
  }

  private async setView(sort: TableSort | null, filter: TableFilter | null): Promise<void> {
    const { rows, view } = this;
    if (!rows || !view) return;
    this.post({ type: 'busy', message: 'Sorting and filtering…' });
    const fileColumn = (shown: number): number => this.order[shown] ?? shown;
    const sortColumn = sort && fileColumn(sort.column);
    const rowCount = await rows.setView(
      sort && { ...sort, column: sortColumn! },
      filter && { ...filter, column: fileColumn(filter.column) },
      sortColumn !== null && this.answerColumns.includes(sortColumn) ? this.statusColumn : null,
    );
    this.view = { ...view, version: view.version + 1, rowCount, sort, filter };
    this.post({ type: 'table', table: this.view });
    this.post({ type: 'busy', message: null });
  }

  private async detail(customId: string): Promise<ReturnType<typeof rowDetail>> {
    this.lineIndexes ??= this.indexes().catch((error: unknown) => {
      this.lineIndexes = null;
      throw error;
    });
    const [request, ...results] = await this.lineIndexes;
    const requestLine = await request!.find(customId);
    let resultLine: unknown = null;
    for (const index of results) resultLine ??= await index.find(customId);
    const { rows, view, order } = this;
    const cells = rows && view?.idColumn === 0 ? await rows.find(order[0]!, customId) : null;
    const row = cells && view!.columns.map((column, shown) => ({ column, value: cells[order[shown]!] ?? '' }));
    return rowDetail(customId, requestLine, resultLine, row);
  }

  /** The rows as shown (filter, sort, column order) to a CSV the user names; without a table,
   *  the daemon's Export Scored CSV of every row. */
  private async exportShown(): Promise<void> {
    const { rows, view, analysis } = this;
    if (!rows || !view) {
      await vscode.commands.executeCommand('ollamaBatch.exportScoredCsv', analysis.batch.id);
      return;
    }
    const source = analysis.source ?? analysis.report.csv!.path;
    const shown = view.rowCount === view.totalRows ? '' : '.filtered';
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(join(dirname(source), `${basename(source, extname(source))}.scored${shown}.csv`)),
      filters: { 'CSV files': ['csv'] },
      title: `Ollama Batch: Export the ${formatCount(view.rowCount)} rows shown`,
    });
    if (!target) return;
    this.post({ type: 'busy', message: 'Exporting…' });
    let written: number;
    try {
      written = await rows.export(target.fsPath, this.order);
    } finally {
      this.post({ type: 'busy', message: null });
    }
    const how = [
      view.filter && `filtered by ${view.columns[view.filter.column]} ${view.filter.text.trim()}`,
      view.sort &&
        `sorted by ${view.columns[view.sort.column]} ${view.sort.order === 'asc' ? 'ascending' : 'descending'}`,
    ].filter(Boolean);
    const choice = await vscode.window.showInformationMessage(
      `Ollama Batch: wrote ${formatCount(written)} rows to ${basename(target.fsPath)}${how.length > 0 ? `, ${how.join(', ')}` : ''}.`,
      'Open',
    );
    if (choice) await vscode.commands.executeCommand('vscode.open', target);
  }

  /** The batch's input, output and error files, where the daemon keeps them. */
  private async indexes(): Promise<LineIndex[]> {
    const client = await this.ctx.requireClient();
    if (!client) throw new Error('the daemon is not running');
    const { batch } = this.analysis;
    const ids = [batch.input_file_id, batch.output_file_id, batch.error_file_id].filter(
      (id): id is string => id !== null,
    );
    const files = await Promise.all(ids.map((id) => client.sendRequest(FileGetRequest.type, { id })));
    return files.map((file) => new LineIndex(file.path));
  }

  private post(message: ToResultsWebview): void {
    void this.panel.webview.postMessage(message);
  }
}

const BODY = `
  <header class="results-header">
    <h1 id="title"></h1>
    <span id="busy" class="busy" hidden></span>
    <button id="export" type="button" title="Writes the rows as the table shows them: its filter, its sort and its column order">Export Scored CSV…</button>
  </header>
  <p id="cascade-line" class="muted" hidden></p>
  <p id="partial-line" class="partial" hidden><span id="partial"></span> <button id="refresh" type="button">Refresh</button></p>
  <dl class="counters" id="summary"></dl>
  <div class="distributions" id="distributions"></div>
  <div class="extremes">
    <section><h2>Top</h2><table id="top" class="small-table"></table></section>
    <section><h2>Bottom</h2><table id="bottom" class="small-table"></table></section>
  </div>
  <p id="expected-note" class="muted"></p>
  <section id="uncertain-section" hidden>
    <h2>To review: the least certain scores</h2>
    <table id="uncertain" class="small-table"></table>
  </section>
  <section class="table-section">
    <h2>All rows <span id="row-count" class="muted"></span></h2>
    <p id="no-table" class="muted" hidden>These results were analysed without their CSV. Use “Export Scored CSV…” (or Analyze Results with the source CSV) to see every row here.</p>
    <div id="table-tools" class="table-tools" hidden>
      <label>Filter <select id="filter-column"></select></label>
      <input id="filter-text" type="search" placeholder="text, or >= 7, < 3, = yes">
    </div>
    <div id="viewport" class="viewport" tabindex="0" hidden>
      <div id="table-header" class="table-row table-head" role="row"></div>
      <div id="spacer" class="spacer"><div id="rows" class="rows" role="rowgroup"></div></div>
    </div>
  </section>
  <aside id="detail" class="detail" hidden>
    <header class="detail-header">
      <h2>Row <span id="detail-id"></span></h2>
      <button id="detail-close" type="button" title="Close" aria-label="Close">✕</button>
    </header>
    <div id="detail-body"></div>
  </aside>`;

// The extension's lifecycle owner. Extension-scoped things (log, events, commands) live as long as
// the window; client-scoped things (the language client and what hangs on it) are created per
// connection and disposed on every reconnect or daemon restart.
import type { Socket } from 'node:net';
import * as vscode from 'vscode';
import type { ErrorHandler, LanguageClient, LanguageClientOptions } from 'vscode-languageclient/node';
import type { BatchMetricsSnapshot } from '../server/protocol/metrics.js';
import type { Batch } from '../server/protocol/openai.js';
import {
  BatchChangedNotification,
  BatchMetricsNotification,
  DaemonShutdownRequest,
  DaemonStatusRequest,
  type DaemonInfo,
} from '../server/protocol/methods.js';
import { connectOrStartDaemon, processAlive, readLock, resolveDataDir, waitForRelease } from './daemon.js';
import { engineModulesEnv } from './embedded-engine.js';
import { errorMessage, type Log } from './log.js';
import { serveOptions } from './model/daemon-settings.js';
import { explicitSettings } from './settings.js';
import { showStartFailure } from './start-failure.js';

export interface BatchMetricsEvent {
  id: string;
  snapshot: BatchMetricsSnapshot;
}

export type DaemonState = 'starting' | 'running' | 'stopped';

/** How long a restart waits for the old daemon to let go of the data dir. */
const RELEASE_TIMEOUT_MS = 30_000;

export class Ctx implements vscode.Disposable {
  private _client: LanguageClient | undefined;
  private readonly clientSubscriptions: vscode.Disposable[] = [];
  /**
   * The batch files' diagnostics, for the window's life rather than a connection's: a stopped
   * daemon leaves the last ones up, and the next connection validates the open files again.
   */
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('ollamaBatch');
  /** The language client's crash count, kept across connections so a daemon that keeps dying is left alone. */
  private crashPolicy: ErrorHandler | undefined;
  private readonly subscriptions: vscode.Disposable[] = [
    this.diagnostics,
    // The daemon clears a closed file's diagnostics; with no daemon to ask, so do we.
    vscode.workspace.onDidCloseTextDocument((document) => this.diagnostics.delete(document.uri)),
  ];
  /** Set while we close the connection on purpose, so the error handler does not reconnect. */
  private stopping = false;
  /** Start, reconnect and restart run one after another; commands wait for the one in flight. */
  private lifecycle: Promise<void> = Promise.resolve();

  private _state: DaemonState = 'stopped';
  private _info: DaemonInfo | undefined;
  private readonly _onDidChangeState = new vscode.EventEmitter<DaemonState>();
  /** The daemon became reachable, or stopped being so. */
  readonly onDidChangeState = this._onDidChangeState.event;
  private readonly _onDidConnect = new vscode.EventEmitter<DaemonInfo>();
  /** A connection is up and the daemon said who it is (after every start or reconnect). */
  readonly onDidConnect = this._onDidConnect.event;
  private readonly _onDidChangeBatch = new vscode.EventEmitter<Batch>();
  /** Every batch change the daemon announces, from any window or the CLI. */
  readonly onDidChangeBatch = this._onDidChangeBatch.event;
  private readonly _onDidReceiveMetrics = new vscode.EventEmitter<BatchMetricsEvent>();
  /** The running batch's metrics, once a second. */
  readonly onDidReceiveMetrics = this._onDidReceiveMetrics.event;

  constructor(
    private readonly extensionContext: vscode.ExtensionContext,
    readonly log: Log,
  ) {}

  get state(): DaemonState {
    return this._state;
  }

  /** The connected daemon's description; undefined while unconnected. */
  get info(): DaemonInfo | undefined {
    return this._state === 'running' ? this._info : undefined;
  }

  get dataDir(): string {
    return resolveDataDir();
  }

  /** The client while connected, else undefined. */
  get client(): LanguageClient | undefined {
    return this._client?.isRunning() ? this._client : undefined;
  }

  /** The connected client, waiting for a start in flight, else starting the daemon; undefined when it could not start (the user was told). */
  async requireClient(): Promise<LanguageClient | undefined> {
    await this.lifecycle;
    if (!this.client) await this.start();
    return this.client;
  }

  /** Connects to the daemon of the configured data dir, starting it when none runs. */
  start(): Promise<void> {
    return this.serially(() => this.startClient());
  }

  /** Drops the connection and connects again (the data dir setting changed). */
  reconnect(): Promise<void> {
    return this.serially(async () => {
      await this.stopClient();
      await this.startClient();
    });
  }

  /** Stops the daemon; running batches resume at its next start. */
  stopDaemon(): Promise<void> {
    return this.serially(() => this.stopDaemonNow());
  }

  /** Stops the daemon and starts a fresh one (with the settings as they are now). */
  restartDaemon(): Promise<void> {
    return this.serially(async () => {
      await this.stopDaemonNow();
      await this.startClient();
    });
  }

  /** Closes this window's connection; the daemon keeps running. */
  async stopClient(): Promise<void> {
    const client = this._client;
    this._client = undefined;
    vscode.Disposable.from(...this.clientSubscriptions.splice(0)).dispose();
    this.setState('stopped');
    this.stopping = true;
    try {
      if (client?.isRunning()) await client.dispose();
    } catch (error) {
      this.log.warn(`closing the connection: ${errorMessage(error)}`);
    } finally {
      this.stopping = false;
    }
  }

  dispose(): void {
    void this.stopClient();
    vscode.Disposable.from(...this.subscriptions).dispose();
    this._onDidChangeState.dispose();
    this._onDidConnect.dispose();
    this._onDidChangeBatch.dispose();
    this._onDidReceiveMetrics.dispose();
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const run = this.lifecycle.then(task);
    this.lifecycle = run.catch(() => undefined);
    return run;
  }

  private async stopDaemonNow(): Promise<void> {
    const dataDir = this.dataDir;
    const pid = readLock(dataDir)?.pid;
    const client = this.client;
    if (client) {
      this.stopping = true;
      await client
        .sendRequest(DaemonShutdownRequest.type)
        .catch((error: unknown) => this.log.error('daemon/shutdown failed', error));
    } else if (pid !== undefined && processAlive(pid)) {
      // Running but not answering us: SIGTERM is the daemon's other orderly way out.
      process.kill(pid, 'SIGTERM');
    }
    await this.stopClient();
    if (pid === undefined) return;
    this.setState('starting');
    const released = await waitForRelease(dataDir, pid, RELEASE_TIMEOUT_MS);
    this.setState('stopped');
    if (!released) throw new Error(`the daemon (pid ${pid}) did not stop within ${RELEASE_TIMEOUT_MS / 1000} s`);
    this.log.info(`daemon pid ${pid} stopped`);
  }

  private async startClient(): Promise<void> {
    const dataDir = this.dataDir;
    const cliPath = this.extensionContext.asAbsolutePath('dist/cli.mjs');
    this.setState('starting');
    // Started here, not in the language client's server options: the client would show a failure with its stack.
    let socket: Socket;
    try {
      const serve = serveOptions(explicitSettings());
      // Where Install Embedded Engine puts node-llama-cpp, which the .vsix does not carry.
      const env = { ...serve.env, ...engineModulesEnv(this.extensionContext) };
      socket = await connectOrStartDaemon(dataDir, cliPath, this.log, { ...serve, env });
    } catch (error) {
      this.log.error(`could not start the daemon for ${dataDir}`, error);
      this.setState('stopped');
      void showStartFailure(error);
      return;
    }
    // A bundle of its own, loaded here rather than at activation (esbuild.mjs).
    const languageClient = this.extensionContext.asAbsolutePath('dist/language-client.cjs');
    const { CloseAction, LanguageClient, RevealOutputChannelOn, State } = require(
      languageClient,
    ) as typeof import('./language-client.js');
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file', pattern: '**/*.jsonl' }],
      diagnosticCollectionProvider: { create: () => this.diagnostics, dispose: () => undefined },
      outputChannel: this.log.channel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationFailedHandler: (error: unknown) => {
        this.log.error('the daemon refused the connection', error);
        return false;
      },
      errorHandler: {
        error: (error, message, count) => this.crashPolicy!.error(error, message, count),
        closed: async () => {
          if (this.stopping) return { action: CloseAction.DoNotRestart, handled: true };
          // The daemon went away (a crash, or a stop from the CLI). Connect again through start(), which
          // starts it and words a failure, at most 4 times in 3 minutes (the default policy).
          const verdict = await this.crashPolicy!.closed();
          if (verdict.action !== CloseAction.Restart) return verdict;
          void this.reconnect();
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    // The daemon is up: the client connects once, to this socket.
    const client = new LanguageClient(
      'ollamaBatch',
      'Ollama Batch',
      () => Promise.resolve({ reader: socket, writer: socket }),
      clientOptions,
    );
    this.crashPolicy ??= client.createDefaultErrorHandler();
    this._client = client;
    this.clientSubscriptions.push(
      client.onDidChangeState(({ newState }) => {
        if (newState === State.Running) void this.connected(client);
        else this.setState(newState === State.Starting ? 'starting' : 'stopped');
      }),
      client.onNotification(BatchChangedNotification.type, (batch) => this._onDidChangeBatch.fire(batch)),
      client.onNotification(BatchMetricsNotification.type, (metrics) => this._onDidReceiveMetrics.fire(metrics)),
    );
    try {
      await client.start();
    } catch (error) {
      this.log.error(`could not connect to the daemon for ${dataDir}`, error);
    }
  }

  private async connected(client: LanguageClient): Promise<void> {
    try {
      const info = await client.sendRequest(DaemonStatusRequest.type);
      if (client !== this._client) return;
      this._info = info;
      this.log.info(
        `connected to daemon ${info.version} pid ${info.pid} (engine ${info.engine.name}${info.engine.url ? ` at ${info.engine.url}` : ''}, data in ${info.dataDir})`,
      );
      this.setState('running');
      this._onDidConnect.fire(info);
    } catch (error) {
      this.log.error('daemon/status failed', error);
    }
  }

  private setState(state: DaemonState): void {
    if (state === this._state) return;
    this._state = state;
    this._onDidChangeState.fire(state);
  }
}

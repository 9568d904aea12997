// A bare JSON-RPC client playing VS Code against the daemon's language features, in process over
// two streams: settings answered, diagnostics awaited (never slept on). Tests and benchmarks.
import { PassThrough } from 'node:stream';
import { createMessageConnection, type MessageConnection } from 'vscode-jsonrpc/node';
import {
  createConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type CodeAction,
  type CodeLens,
  type Diagnostic,
  type ConfigurationParams,
  type Hover,
  type InitializeResult,
  type PublishDiagnosticsParams,
  type RegistrationParams,
} from 'vscode-languageserver/node';
import { registerLanguageFeatures, type LanguageFeatures } from '../../server/lsp/language-features.js';
import { readModelStats } from '../../server/store/store.js';

/** The client side: VS Code as far as the server can tell. */
export class Editor {
  readonly client: MessageConnection;
  settings: Record<string, unknown> = {};
  readonly configurationAsked: string[] = [];
  readonly registrations: Promise<string[]>;
  /** Called after each `workspace/configuration` answer, with the uri asked about. */
  onConfigurationAnswered: (uri: string) => void = () => undefined;
  private readonly features: LanguageFeatures;
  private readonly published = new Map<string, PublishDiagnosticsParams[]>();
  private readonly waiting = new Map<string, (params: PublishDiagnosticsParams) => void>();

  constructor(dataDir: string) {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const server = createConnection(new StreamMessageReader(toServer), new StreamMessageWriter(toClient));
    this.features = registerLanguageFeatures(server, { modelStats: (model) => readModelStats(dataDir, model) });
    server.onInitialize((params) => this.features.initialize(params));
    server.listen();
    this.client = createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
    this.client.onRequest('workspace/configuration', (params: ConfigurationParams) => {
      const answer = params.items.map((item) => (item.section === 'ollamaBatch' ? this.settings : null));
      for (const item of params.items) {
        this.configurationAsked.push(item.scopeUri!);
        setImmediate(() => this.onConfigurationAnswered(item.scopeUri!));
      }
      return answer;
    });
    this.registrations = new Promise((resolve) =>
      this.client.onRequest(
        'client/registerCapability',
        (params: RegistrationParams) => void resolve(params.registrations.map((registration) => registration.method)),
      ),
    );
    this.client.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
      const waiter = this.waiting.get(params.uri);
      this.waiting.delete(params.uri);
      if (waiter) waiter(params);
      else this.published.set(params.uri, [...(this.published.get(params.uri) ?? []), params]);
    });
    this.client.listen();
  }

  async start(): Promise<InitializeResult> {
    const result = await this.client.sendRequest<InitializeResult>('initialize', {
      processId: null,
      rootUri: null,
      capabilities: { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } } },
    });
    await this.client.sendNotification('initialized', {});
    return result;
  }

  /** The next diagnostics published for `uri` (queued ones first). */
  diagnostics(uri: string): Promise<PublishDiagnosticsParams> {
    const queued = this.published.get(uri);
    if (queued?.length) return Promise.resolve(queued.shift()!);
    return new Promise((resolve) => this.waiting.set(uri, resolve));
  }

  pending(uri: string): number {
    return this.published.get(uri)?.length ?? 0;
  }

  open(uri: string, text: string, languageId = 'jsonl'): Promise<void> {
    return this.client.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId, version: 1, text },
    });
  }

  change(uri: string, version: number, text: string): Promise<void> {
    return this.client.sendNotification('textDocument/didChange', {
      textDocument: { uri, version },
      contentChanges: [{ text }],
    });
  }

  close(uri: string): Promise<void> {
    return this.client.sendNotification('textDocument/didClose', { textDocument: { uri } });
  }

  /** An incremental change, as VS Code sends while typing: line `line` replaced by `text`. */
  edit(uri: string, version: number, { line, text }: { line: number; text: string }): Promise<void> {
    const range = { start: { line, character: 0 }, end: { line: line + 1, character: 0 } };
    return this.client.sendNotification('textDocument/didChange', {
      textDocument: { uri, version },
      contentChanges: [{ range, text: `${text}\n` }],
    });
  }

  hover(uri: string, line: number): Promise<Hover | null> {
    return this.client.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line, character: 2 } });
  }

  /** The code actions for `diagnostics`, as VS Code asks for them under the cursor. */
  codeActions(uri: string, diagnostics: Diagnostic[]): Promise<CodeAction[] | null> {
    return this.client.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: diagnostics[0]!.range,
      context: { diagnostics },
    });
  }

  codeLens(uri: string): Promise<CodeLens[] | null> {
    return this.client.sendRequest('textDocument/codeLens', { textDocument: { uri } });
  }

  dispose(): void {
    this.features.dispose();
    this.client.dispose();
  }
}

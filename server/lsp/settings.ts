// The editor's `ollamaBatch` settings, per document: pulled from the client (settings can differ by
// folder), cached until the client says they changed.
import type { Connection } from 'vscode-languageserver';

export interface EditorSettings {
  /** `ollamaBatch.numCtx`; 0: the model's learned limit, else the editor's default. */
  numCtx: number;
}

const DEFAULT_SETTINGS: EditorSettings = { numCtx: 0 };
export const SETTINGS_SECTION = 'ollamaBatch';

function parseSettings(raw: unknown): EditorSettings {
  const numCtx = (raw as { numCtx?: unknown } | null)?.numCtx;
  return { numCtx: typeof numCtx === 'number' && Number.isInteger(numCtx) && numCtx > 0 ? numCtx : 0 };
}

export class SettingsCache {
  private readonly byUri = new Map<string, Promise<EditorSettings>>();
  /** Set from the client's capabilities: a client that cannot be asked gets the defaults. */
  supported = false;

  constructor(private readonly connection: Connection) {}

  for(uri: string): Promise<EditorSettings> {
    if (!this.supported) return Promise.resolve(DEFAULT_SETTINGS);
    let settings = this.byUri.get(uri);
    if (!settings) {
      settings = this.connection.workspace
        .getConfiguration({ scopeUri: uri, section: SETTINGS_SECTION })
        .then(parseSettings, () => DEFAULT_SETTINGS);
      this.byUri.set(uri, settings);
    }
    return settings;
  }

  forget(uri: string): void {
    this.byUri.delete(uri);
  }

  clear(): void {
    this.byUri.clear();
  }
}

// The defaults the settings table states, here so that the parts that fall back on them (the
// HTTP server, the runner, the VRAM monitor, the engines) and the table read the same numbers.

export const DEFAULT_OLLAMA_URL = 'http://127.0.0.1:11434';
export const DEFAULT_OPENAI_URL = 'http://127.0.0.1:8080/v1';
export const DEFAULT_HTTP_HOST = '127.0.0.1';
export const DEFAULT_HTTP_PORT = 11435;
export const DEFAULT_MAX_UPLOAD_MB = 2048;
/** Requests in flight where neither a setting nor the engine says. */
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_MAX_ATTEMPTS = 6;
export const DEFAULT_NVIDIA_SMI = 'nvidia-smi';
export const DEFAULT_VRAM_POLL_MS = 5_000;
export const DEFAULT_WARNING_SHARE = 0.9;
export const DEFAULT_CRITICAL_SHARE = 0.97;
/** Aggressive trimming keeps this share of the context. */
export const DEFAULT_AGGRESSIVE_FRACTION = 0.75;

/** Whether a server at `url` runs on this machine: its host is localhost or a loopback address. */
export function isLoopbackUrl(url: string): boolean {
  const host = URL.canParse(url) ? new URL(url).hostname : '';
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

/**
 * The base URL for an OLLAMA_HOST value, read the way Ollama's own envconfig reads it: no scheme
 * means http and port 11434; `http://host` means port 80. The unspecified addresses a server
 * binds to (`0.0.0.0`, `::`) are reached through loopback.
 */
export function ollamaBaseUrl(host: string | undefined = process.env.OLLAMA_HOST): string {
  let text = (host ?? '').trim();
  if (!text) return DEFAULT_OLLAMA_URL;
  let defaultPort = '11434';
  const schemeEnd = text.indexOf('://');
  if (schemeEnd < 0) text = `http://${text.startsWith(':') ? `127.0.0.1${text}` : text}`;
  else if (text.startsWith('https://')) defaultPort = '443';
  else defaultPort = '80';
  const url = new URL(text);
  if (!url.port) url.port = defaultPort;
  if (url.hostname === '0.0.0.0' || url.hostname === '') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  return url.toString().replace(/\/+$/, '');
}

// The version the CLI and the daemon report (kept apart so that `--help` loads no daemon code).
export const VERSION = '0.1.0';

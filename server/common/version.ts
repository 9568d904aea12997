// The version the CLI and the daemon report, read from package.json (the bundler inlines it), so
// there is no second copy to keep in step. Apart from the daemon's code, so `--help` loads none.
import packageJson from '../../package.json' with { type: 'json' };

export const VERSION: string = packageJson.version;

// The language client in a bundle of its own (dist/language-client.cjs, see esbuild.mjs): three
// quarters of the extension's code, compiled when the connection starts instead of at activation.
export { CloseAction, LanguageClient, RevealOutputChannelOn, State } from 'vscode-languageclient/node';

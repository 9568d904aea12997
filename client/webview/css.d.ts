// esbuild bundles the CSS a webview script imports into a style sheet beside it.
declare module '*.css';

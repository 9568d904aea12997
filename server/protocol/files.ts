// The daemon's JSONL files, which local clients read by path (file/get's `path`) with the same
// line reader as the daemon: a line too long is reported, not buffered.
export { readLines } from '../jsonl/lines.js';

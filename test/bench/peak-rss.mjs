// Preloaded into a measured process (node --import): on exit, its peak RSS (bytes) as one line on
// stderr, from the kernel's own accounting (getrusage), so a short run's peak is never missed.
process.on('exit', () => process.stderr.write(`\npeak-rss ${process.resourceUsage().maxRSS * 1024}\n`));

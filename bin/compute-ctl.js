#!/usr/bin/env node
// The package's command. The TypeScript is compiled by `npm run setup` (or `npm run build`).
if (process.argv[2] === 'worker') {
  // The in-pod process lives beside Postgres in a small pod: a smaller young generation and V8's
  // size-over-speed heuristics keep it near 120 MB instead of 200 (its work is I/O, not JS).
  require('node:v8').setFlagsFromString('--optimize-for-size --max-semi-space-size=2');
}
require('../dist/src/cli.js').main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

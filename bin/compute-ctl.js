#!/usr/bin/env node
// The package's command. The TypeScript is compiled, and the command bundled into one file, by
// `npm run setup` (or `npm run build`); without the bundle the compiled modules serve as well.
const fs = require('node:fs');
const path = require('node:path');

if (process.argv[2] === 'worker') {
  // The in-pod process lives beside Postgres in a small pod: a smaller young generation and V8's
  // size-over-speed heuristics keep it near 120 MB instead of 200 (its work is I/O, not JS).
  require('node:v8').setFlagsFromString('--optimize-for-size --max-semi-space-size=2');
}
const bundle = path.join(__dirname, '..', 'dist', 'src', 'cli.bundle.js');
require(fs.existsSync(bundle) ? bundle : '../dist/src/cli.js')
  .main(process.argv)
  .catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });

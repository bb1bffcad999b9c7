#!/usr/bin/env node
// The package's command. The TypeScript is compiled by `npm run setup` (or `npm run build`).
require('../dist/src/cli.js').main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

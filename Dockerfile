# The compute pod image: compute-ctl (Node 24 LTS) and the PostgreSQL 15 server it supervises, with
# pgaudit and pgauditlogtofile for audit_log_level (pgbouncer and local_proxy are neighbours of their own).
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 postgresql-15-pgaudit postgresql-15-pgauditlogtofile \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
COPY scripts ./scripts
COPY examples ./examples
COPY deploy ./deploy
RUN npx tsc -p tsconfig.json && node dist/src/workflow-bundle.js && node scripts/bundle-command.js && npm prune --omit=dev
# compute-ctl runs as root and runs Postgres as the package's `postgres` user (--pg-user).
ENV POSTGRES_PATH=/usr/lib/postgresql/15/bin/postgres
# Two malloc arenas instead of one per thread (Temporal Core's runtime has a dozen): ~15 MB less
# resident memory for the worker, whose allocations are few and small.
ENV MALLOC_ARENA_MAX=2
EXPOSE 3080 3081 55432
ENTRYPOINT ["node", "/app/bin/compute-ctl.js"]

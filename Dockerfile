# The compute pod image: compute-ctl (Node 20) and the PostgreSQL 15 server it supervises.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
COPY examples ./examples
COPY deploy ./deploy
RUN npx tsc -p tsconfig.json && node dist/src/workflow-bundle.js && npm prune --omit=dev
# compute-ctl runs as root and runs Postgres as the package's `postgres` user (--pg-user).
ENV POSTGRES_PATH=/usr/lib/postgresql/15/bin/postgres
EXPOSE 3080 3081 55432
ENTRYPOINT ["node", "/app/bin/compute-ctl.js"]

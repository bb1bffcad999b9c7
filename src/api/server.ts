// The two HTTP servers of the in-pod process (reference §6.1): external (control plane, metrics
// scraper) and internal (Postgres' neon extension, local_proxy).
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ComputeOperations } from '../client';
import type { Authenticator } from './auth';
import { commonPlugin, serverOptions } from './common';
import { getFromCommunicator } from '../postgres/communicator';
import { internalRoutes } from './routes/internal';
import type { RemoteExtensions } from '../postgres/remote-extensions';
import { postgresRoutes } from './routes/database';
import { computeRoutes } from './routes/compute';
import { lfcRoutes } from './routes/lfc';

/** What /metrics serves (a prom-client Registry has this shape). */
export interface Exposition {
  contentType: string;
  metrics(): Promise<string>;
}

export interface ApiOptions {
  computes: ComputeOperations;
  /** Checks the Authorization header of every route but /metrics (§6.2); null: no authentication. */
  auth: Authenticator | null;
  computeId: string;
  /** The compute's Postgres as superuser, for routes that read it directly. */
  connstr: string;
  pgdata: string;
  /** Directory of the PostgreSQL binaries (pg_dump). */
  pgbinDir: string;
  metrics: Exposition;
  /** Temporal Core's worker metrics (Prometheus text), once the worker runs; null before. */
  temporalMetrics?: () => Promise<string | null>;
  logLevel?: string;
}

export async function buildExternalServer(opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(opts.logLevel ?? 'info', opts.computeId));
  await app.register(commonPlugin);
  // The API description, made from the routes' schemas (registered first, so it sees them all).
  await app.register(swagger, {
    openapi: {
      info: { title: 'compute-ctl external API', version: '1', description: "Neon compute_ctl's external API (reference §6), as this project serves it" },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Not authenticated (§6.2): the autoscaler's metrics, from the neon extension's communicator.
  app.get('/autoscaling_metrics', async (_request, reply) => {
    try {
      const r = await getFromCommunicator(opts.pgdata, '/autoscaling_metrics');
      return reply.code(r.status).type(r.contentType).send(r.body);
    } catch (err) {
      return reply.code(500).send({ error: `failed to read the autoscaling metrics: ${(err as Error).message}` });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await opts.metrics.metrics();
    return reply.type(opts.metrics.contentType).send(body);
  });
  // Temporal's worker metrics beside ours, on their own path: /metrics stays the compute's (what
  // Neon's control plane scrapes), without some 50 KB of task latencies and pollers per scrape.
  app.get('/metrics/temporal', async (_request, reply) => {
    const body = await opts.temporalMetrics?.().catch(() => null);
    if (!body) return reply.code(503).send({ error: 'the Temporal worker of this compute is not running yet' });
    return reply.type(opts.metrics.contentType).send(body);
  });
  // Every route registered in here is authenticated (a Fastify context: the hook covers only it).
  await app.register(async (authenticated) => {
    const { auth } = opts;
    if (auth) authenticated.addHook('onRequest', async (request) => auth.check(request.headers.authorization));
    await authenticated.register(computeRoutes, { computes: opts.computes, computeId: opts.computeId });
    await authenticated.register(lfcRoutes, { computes: opts.computes, computeId: opts.computeId });
    await authenticated.register(postgresRoutes, { computes: opts.computes, computeId: opts.computeId, connstr: opts.connstr, pgbinDir: opts.pgbinDir });
  });
  return app;
}

/** The internal server (§6.4): Postgres' own requests; not authenticated. */
export async function buildInternalServer(
  opts: Pick<ApiOptions, 'computes' | 'computeId' | 'connstr' | 'logLevel'> & { onRefreshRequested?: () => void; remoteExtensions?: RemoteExtensions },
): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(opts.logLevel ?? 'info', opts.computeId));
  await app.register(commonPlugin);
  await app.register(internalRoutes, { computes: opts.computes, computeId: opts.computeId, connstr: opts.connstr, onRefreshRequested: opts.onRefreshRequested, remoteExtensions: opts.remoteExtensions });
  return app;
}

// The pod's two HTTP servers (reference §6.1), built and listening: the external API with its
// authentication (§6.2) from the startup config's keys, and the internal one for Postgres itself.
import path from 'node:path';
import type { RemoteExtensions } from '../postgres/remote-extensions';
import type { FastifyInstance } from 'fastify';
import { createAuthenticator, type Authenticator } from '../api/auth';
import { buildExternalServer, buildInternalServer } from '../api/server';
import type { ComputeOperations } from '../client';
import type { JwkJson } from '../compute-spec/schema';
import type { ParsedConfig } from '../compute-spec/parse';
import { isLoopback } from '../loopback';
import { log } from '../log';
import type { ComputeMetrics } from './metrics';

export interface HttpServers {
  external: FastifyInstance;
  internal: FastifyInstance;
  close(): Promise<void>;
}

interface HttpOptions {
  computeId: string;
  connstr: string;
  pgdata: string;
  postgres: string;
  httpHost: string;
  externalHttpPort: number;
  internalHttpPort: number;
  logLevel: string;
}

/**
 * Without keys the API is served unauthenticated only on a loopback address; Neon's INSTANCE_ID
 * turns authentication off.
 */
async function apiAuthentication(o: HttpOptions, keys: readonly JwkJson[]): Promise<Authenticator | null> {
  if (process.env.INSTANCE_ID) {
    log('warn', 'INSTANCE_ID is set: the external API is served without authentication');
    return null;
  }
  const auth = await createAuthenticator(keys, o.computeId);
  if (auth) return auth;
  if (!isLoopback(o.httpHost)) {
    throw new Error(
      `--http-host ${o.httpHost} is not a loopback address and no JWT keys are configured (compute_ctl_config.jwks.keys): ` +
        "refusing to serve the compute's API without authentication",
    );
  }
  log('info', `no JWT keys configured (compute_ctl_config.jwks.keys): the API on ${o.httpHost} is served without authentication`);
  return null;
}

export async function httpServers(
  o: HttpOptions,
  computes: ComputeOperations,
  metrics: ComputeMetrics,
  config: ParsedConfig | null,
  temporalMetrics: () => Promise<string | null>,
  remoteExtensions?: RemoteExtensions,
): Promise<HttpServers> {
  const auth = await apiAuthentication(o, config?.computeCtlConfig.jwks.keys ?? []);
  const external = await buildExternalServer({
    auth,
    computes,
    computeId: o.computeId,
    connstr: o.connstr,
    pgdata: o.pgdata,
    pgbinDir: path.dirname(o.postgres),
    metrics: metrics.exposition,
    temporalMetrics,
    logLevel: o.logLevel,
  });
  const internal = await buildInternalServer({
    computes,
    computeId: o.computeId,
    connstr: o.connstr,
    logLevel: o.logLevel,
    onRefreshRequested: () => metrics.refreshRequests.inc(),
    remoteExtensions,
  });
  const close = async () => void (await Promise.allSettled([external.close(), internal.close()]));
  try {
    await external.listen({ host: o.httpHost, port: o.externalHttpPort });
    await internal.listen({ host: o.httpHost, port: o.internalHttpPort });
  } catch (err) {
    await close();
    throw err;
  }
  return { external, internal, close };
}

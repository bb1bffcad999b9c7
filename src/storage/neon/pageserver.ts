// The pageserver's libpq protocol: `basebackup` streamed over COPY OUT (reference §4.5) and
// `lease lsn` (§8.2). The storage token is the password.
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Client, type ClientConfig } from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { to as copyTo } from 'pg-copy-streams';
import * as tar from 'tar';
import type { ComputeMode } from '../../compute-spec/parse';
import { shardKey } from '../../compute-spec/parse';
import type { PageserverConnectionInfo } from '../../compute-spec/schema';
import { failpoint } from '../../postgres/failpoints';
import type { RunAs } from '../../postgres/os';

export function pageserverClientConfig(libpqUrl: string, token: string | null, extra: Partial<ClientConfig> = {}): ClientConfig {
  const config = parseIntoClientConfig(libpqUrl);
  return { ...config, ...(token ? { password: token } : {}), ssl: false, connectionTimeoutMillis: 10_000, ...extra };
}

/** The first pageserver of shard 0, where basebackups come from. */
export function shardZeroUrl(info: PageserverConnectionInfo): string {
  if ((info.prefer_protocol ?? 'libpq') === 'grpc') {
    throw new Error('the gRPC pageserver protocol is not supported; use prefer_protocol "libpq"');
  }
  const url = info.shards[shardKey(0, info.shard_count)]?.pageservers[0]?.libpq_url;
  if (!url) throw new Error(`no libpq_url for shard ${shardKey(0, info.shard_count)} in pageserver_connection_info`);
  return url;
}

/** The query text of §4.5, byte for byte. */
export function basebackupQuery(tenant: string, timeline: string, lsn: string, mode: ComputeMode): string {
  const at = lsn === '0/0' ? '' : ` ${lsn}`;
  return `basebackup ${tenant} ${timeline}${at} --gzip${mode.type === 'primary' ? '' : ' --replica'}`;
}

export interface BasebackupRequest {
  url: string;
  token: string | null;
  query: string;
  mode: ComputeMode;
  pgdata: string;
  runAs: RunAs | null;
}

/** Streams COPY OUT → byte counter → gunzip → tar extraction into PGDATA; nothing is buffered whole. */
export async function fetchBasebackup(r: BasebackupRequest): Promise<{ bytes: number; connectMicros: number }> {
  const client = new Client(pageserverClientConfig(r.url, r.token, { application_name: 'compute_ctl', options: `-c neon.compute_mode=${r.mode.type}` }));
  client.on('error', () => undefined);
  const t0 = process.hrtime.bigint();
  await client.connect();
  const connectMicros = Number((process.hrtime.bigint() - t0) / 1000n);
  let bytes = 0;
  try {
    let midway = false;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (!midway && bytes >= 1024 * 1024) {
          midway = true;
          void failpoint('fetchBasebackup-mid').then(() => done(null, chunk));
          return;
        }
        done(null, chunk);
      },
    });
    const extract = tar.x({
      cwd: r.pgdata,
      ...(r.runAs ? { uid: r.runAs.uid, gid: r.runAs.gid, preserveOwner: false } : {}),
      strict: true,
    });
    await pipeline(client.query(copyTo(r.query)), counter, createGunzip(), extract);
  } finally {
    await client.end().catch(() => undefined);
  }
  return { bytes, connectMicros };
}

/** `lease lsn` on one pageserver: valid_until (Unix ms), or null if the lease was refused. */
export async function leaseLsn(url: string, token: string | null, tenantShardId: string, timeline: string, lsn: string): Promise<number | null> {
  const client = new Client(pageserverClientConfig(url, token));
  client.on('error', () => undefined);
  await client.connect();
  try {
    // The trailing space is part of the protocol text (§8.2).
    const { rows } = await client.query<{ valid_until: string | null }>(`lease lsn ${tenantShardId} ${timeline} ${lsn} `);
    const v = rows[0]?.valid_until ?? null;
    return v === null ? null : Number(v);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function tenantShardId(tenant: string, info: PageserverConnectionInfo, shardNumber: number): string {
  return info.shard_count === 0 ? tenant : `${tenant}-${shardKey(shardNumber, info.shard_count)}`;
}

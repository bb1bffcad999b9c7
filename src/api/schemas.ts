// Response schemas of the routes: Fastify serialises with them (fast-json-stringify), and the
// compile-time checks below keep them and the types of src/compute/status.ts the same shape.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { COMPUTE_STATUSES } from '../compute/status';
import { type LfcOffloadState, type LfcPrewarmState, type StartupMetrics, type StatusView } from '../compute/views';
import type { DbsAndRoles } from '../postgres/catalog/inventory';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Int = Type.Integer();

export const StartupMetricsSchema = Type.Object({
  wait_for_spec_ms: Int,
  sync_sk_check_ms: Int,
  sync_safekeepers_ms: Int,
  pageserver_connect_micros: Int,
  basebackup_ms: Int,
  basebackup_bytes: Int,
  start_postgres_ms: Int,
  config_ms: Int,
  total_startup_ms: Int,
  load_ext_ms: Int,
  num_ext_downloaded: Int,
  largest_ext_size: Int,
  total_ext_download_size: Int,
});

export const LeaseStateSchema = Type.Object({
  status: Type.Union(['acquiring', 'held', 'retrying', 'refused'].map((s) => Type.Literal(s as 'acquiring' | 'held' | 'retrying' | 'refused'))),
  lsn: Type.String(),
  valid_until: Nullable(Type.String()),
  renewals: Int,
  error: Nullable(Type.String()),
});

export const StatusViewSchema = Type.Object({
  start_time: Type.String(),
  tenant: Nullable(Type.String()),
  timeline: Nullable(Type.String()),
  status: Type.Union(COMPUTE_STATUSES.map((s) => Type.Literal(s))),
  last_active: Nullable(Type.String()),
  error: Nullable(Type.String()),
  compute_id: Type.String(),
  mode: Nullable(Type.Union([Type.Literal('primary'), Type.Literal('static'), Type.Literal('replica')])),
  startup_metrics: StartupMetricsSchema,
  terminate_lsn: Nullable(Type.String()),
  pending_restart: Type.Array(Type.String()),
  lsn_lease: Nullable(LeaseStateSchema),
  stale: Type.Optional(Type.Object({ since: Type.String(), reason: Type.String() })),
  replication: Type.Optional(Type.Object({ wal_receiver: Nullable(Type.String()), not_streaming_since: Nullable(Type.String()) })),
  pg_version: Type.Optional(Type.String()),
});

export const ErrorSchema = Type.Object({ error: Type.String() });

export const TerminateResponseSchema = Type.Object({ lsn: Nullable(Type.String()) });

/** /promote (Neon's PromoteState, tagged by `status`). */
export const PromoteCompletedSchema = Type.Object({ status: Type.Literal('completed') });
export const PromoteFailedSchema = Type.Object({ status: Type.Literal('failed'), error: Type.String() });

/** GET /lfc/prewarm (Neon's LfcPrewarmState, tagged by `status`). */
export const LfcPrewarmStateSchema = Type.Union([
  Type.Object({ status: Type.Literal('not_prewarmed') }),
  Type.Object({ status: Type.Literal('prewarming') }),
  Type.Object({
    status: Type.Literal('completed'),
    total: Int,
    prewarmed: Int,
    skipped: Int,
    state_download_time_ms: Int,
    uncompress_time_ms: Int,
    prewarm_time_ms: Int,
  }),
  Type.Object({ status: Type.Literal('failed'), error: Type.String() }),
  Type.Object({ status: Type.Literal('skipped') }),
  Type.Object({ status: Type.Literal('cancelled') }),
]);

/** GET /lfc/offload (Neon's LfcOffloadState). */
export const LfcOffloadStateSchema = Type.Union([
  Type.Object({ status: Type.Literal('not_offloaded') }),
  Type.Object({ status: Type.Literal('offloading') }),
  Type.Object({ status: Type.Literal('completed'), state_query_time_ms: Int, compress_time_ms: Int, state_upload_time_ms: Int }),
  Type.Object({ status: Type.Literal('failed'), error: Type.String() }),
  Type.Object({ status: Type.Literal('skipped') }),
]);

export const DbsAndRolesSchema = Type.Object({
  roles: Type.Array(Type.Object({ name: Type.String(), encrypted_password: Type.Null(), options: Type.Null() })),
  databases: Type.Array(
    Type.Object({ name: Type.String(), owner: Type.String(), options: Type.Null(), restrict_conn: Type.Boolean(), invalid: Type.Boolean() }),
  ),
});

/** Error answers a route may give, by status. */
export function errors<C extends number>(...codes: C[]): Record<C, typeof ErrorSchema> {
  return Object.fromEntries(codes.map((c) => [c, ErrorSchema])) as Record<C, typeof ErrorSchema>;
}

// Both ways: a field added to one and not the other fails the build.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const statusViewMatches: Same<Static<typeof StatusViewSchema>, StatusView> = true;
const metricsMatch: Same<Static<typeof StartupMetricsSchema>, StartupMetrics> = true;
const inventoryMatches: Same<Static<typeof DbsAndRolesSchema>, DbsAndRoles> = true;
const prewarmMatches: Same<Static<typeof LfcPrewarmStateSchema>, LfcPrewarmState> = true;
const offloadMatches: Same<Static<typeof LfcOffloadStateSchema>, LfcOffloadState> = true;
void prewarmMatches;
void offloadMatches;
void statusViewMatches;
void metricsMatch;
void inventoryMatches;

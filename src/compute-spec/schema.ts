// The compute spec as Neon's compute_ctl accepts it (reference §2), as one JSON schema from which
// the TypeScript types are derived. Serde's rules are mirrored: an `Option` may be omitted or null,
// a `Vec` with a default may be omitted (but not null), and unknown fields are always accepted.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** serde `Option<T>`: the field may be absent or null. */
const Opt = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

const U64 = Type.Integer({ minimum: 0 });
const U32 = Type.Integer({ minimum: 0, maximum: 0xffffffff });

export const LsnPattern = '^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$';

export const GenericOptionSchema = Type.Object({
  name: Type.String(),
  value: Opt(Type.String()),
  vartype: Type.String(),
});

export const RoleSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  encrypted_password: Opt(Type.String()),
  options: Opt(Type.Array(GenericOptionSchema)),
});

export const DatabaseSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  owner: Type.String({ minLength: 1 }),
  options: Opt(Type.Array(GenericOptionSchema)),
});

export const ClusterSchema = Type.Object({
  cluster_id: Opt(Type.String()),
  name: Opt(Type.String()),
  state: Opt(Type.String()),
  roles: Type.Array(RoleSchema),
  databases: Type.Array(DatabaseSchema),
  postgresql_conf: Opt(Type.String()),
  settings: Opt(Type.Array(GenericOptionSchema)),
});

export const DeltaOpSchema = Type.Object({
  action: Type.String(),
  name: Type.String({ minLength: 1 }),
  new_name: Opt(Type.String({ minLength: 1 })),
});

export const PageserverSchema = Type.Object({
  id: Opt(U64),
  libpq_url: Opt(Type.String()),
  grpc_url: Opt(Type.String()),
});

export const PageserverConnectionInfoSchema = Type.Object({
  shard_count: Type.Integer({ minimum: 0, maximum: 255 }),
  stripe_size: Opt(U32),
  // Keys are ShardIndex as 4 hex digits NNCC (§2.5); anything else is refused, not ignored.
  shards: Type.Record(
    Type.String({ pattern: '^[0-9a-fA-F]{4}$' }),
    Type.Object({ pageservers: Type.Array(PageserverSchema) }),
    { additionalProperties: false },
  ),
  prefer_protocol: Type.Optional(Type.Union([Type.Literal('libpq'), Type.Literal('grpc')])),
});

/** Externally tagged enum: "Primary" | "Replica" | {"Static": "X/X"}. */
export const ComputeModeSchema = Type.Union([
  Type.Literal('Primary'),
  Type.Literal('Replica'),
  Type.Object({ Static: Type.String({ pattern: LsnPattern }) }, { additionalProperties: false }),
]);

/**
 * Our extension (docs/DESIGN.md, "Storage backends"): a plain upstream PostgreSQL as the storage.
 * Neon's compute_ctl ignores the unknown field.
 */
export const StorageSchema = Type.Union([
  Type.Object({ type: Type.Literal('postgres'), connstring: Type.String({ minLength: 1 }) }),
  Type.Object({ type: Type.Literal('neon') }),
]);

export const AuditLogLevelSchema = Type.Union(
  ['Disabled', 'Log', 'Base', 'Hipaa', 'Extended', 'Full'].map((l) => Type.Literal(l)),
);

/** §3 remote_extensions (Neon's RemoteExtSpec): which extensions may be installed, and from where. */
export const RemoteExtSpecSchema = Type.Object({
  public_extensions: Opt(Type.Array(Type.String())),
  custom_extensions: Opt(Type.Array(Type.String())),
  /** Library file name (without `.so`) → the extension whose archive has it. */
  library_index: Type.Record(Type.String(), Type.String()),
  extension_data: Type.Record(Type.String(), Type.Object({ control_data: Type.Record(Type.String(), Type.String()), archive_path: Type.String() })),
});
export type RemoteExtSpec = Static<typeof RemoteExtSpecSchema>;

/** §3 local_proxy_config (Neon's LocalProxySpec): written for local_proxy as given; its roles are created plain (§5). */
export const LocalProxySpecSchema = Type.Object({
  jwks: Opt(
    Type.Array(
      Type.Object({ id: Type.String(), role_names: Type.Array(Type.String()), jwks_url: Type.String(), provider_name: Type.String(), jwt_audience: Opt(Type.String()) }),
    ),
  ),
});
export type LocalProxySpec = Static<typeof LocalProxySpecSchema>;

export const ComputeSpecSchema = Type.Object({
  format_version: Type.Number(),
  operation_uuid: Opt(Type.String()),
  features: Type.Optional(Type.Array(Type.String())),
  swap_size_bytes: Opt(U64),
  disk_quota_bytes: Opt(U64),
  disable_lfc_resizing: Opt(Type.Boolean()),
  cluster: ClusterSchema,
  delta_operations: Opt(Type.Array(DeltaOpSchema)),
  skip_pg_catalog_updates: Type.Optional(Type.Boolean()),
  tenant_id: Opt(Type.String()),
  timeline_id: Opt(Type.String()),
  pageserver_connection_info: Opt(PageserverConnectionInfoSchema),
  pageserver_connstring: Opt(Type.String()),
  shard_stripe_size: Opt(U32),
  project_id: Opt(Type.String()),
  branch_id: Opt(Type.String()),
  endpoint_id: Opt(Type.String()),
  safekeepers_generation: Opt(U32),
  safekeeper_connstrings: Type.Optional(Type.Array(Type.String())),
  mode: Type.Optional(ComputeModeSchema),
  storage_auth_token: Opt(Type.String()),
  remote_extensions: Opt(RemoteExtSpecSchema),
  pgbouncer_settings: Opt(Type.Record(Type.String(), Type.String())),
  local_proxy_config: Opt(LocalProxySpecSchema),
  reconfigure_concurrency: Type.Optional(Type.Integer({ minimum: 0 })),
  drop_subscriptions_before_start: Type.Optional(Type.Boolean()),
  audit_log_level: Type.Optional(AuditLogLevelSchema),
  logs_export_host: Opt(Type.String()),
  endpoint_storage_addr: Opt(Type.String()),
  endpoint_storage_token: Opt(Type.String()),
  autoprewarm: Type.Optional(Type.Boolean()),
  offload_lfc_interval_seconds: Opt(Type.Integer({ minimum: 1 })),
  suspend_timeout_seconds: Type.Integer(),
  storage: Opt(StorageSchema),
});

/** A JSON Web Key (RFC 7517); its other members (crv, x, n, e, …) are kept as given. */
export const JwkSchema = Type.Object({ kty: Type.String(), alg: Opt(Type.String()) });

export const ComputeCtlConfigSchema = Type.Object({
  jwks: Type.Object({ keys: Type.Array(JwkSchema) }),
  tls: Opt(Type.Object({ key_path: Type.String(), cert_path: Type.String() })),
});

/** The `--config` file and the control plane's answer (which also carries `status`). */
export const ComputeConfigSchema = Type.Object({
  spec: Opt(ComputeSpecSchema),
  compute_ctl_config: ComputeCtlConfigSchema,
});

/** Body of `POST /configure`. */
export const ConfigurationRequestSchema = Type.Object({
  spec: ComputeSpecSchema,
  compute_ctl_config: ComputeCtlConfigSchema,
});

/** POST /promote (§6.3): the Primary spec to become, and the old primary's WAL flush LSN. */
export const PromoteRequestSchema = Type.Object({
  spec: Type.Unknown(),
  wal_flush_lsn: Type.String({ pattern: '^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$' }),
});

export type GenericOption = Static<typeof GenericOptionSchema>;
export type Role = Static<typeof RoleSchema>;
export type Database = Static<typeof DatabaseSchema>;
export type Cluster = Static<typeof ClusterSchema>;
export type DeltaOp = Static<typeof DeltaOpSchema>;
export type PageserverConnectionInfo = Static<typeof PageserverConnectionInfoSchema>;
export type ComputeSpec = Static<typeof ComputeSpecSchema>;
export type ComputeCtlConfig = Static<typeof ComputeCtlConfigSchema>;
export type JwkJson = Static<typeof JwkSchema>;
export type ComputeConfig = Static<typeof ComputeConfigSchema>;
export type ConfigurationRequest = Static<typeof ConfigurationRequestSchema>;

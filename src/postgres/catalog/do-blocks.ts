// The catalog statements that are PL/pgSQL DO blocks, by name. Each says what it guarantees.
import { dollarQuote } from './sql';

/**
 * §5.6: the current database has no subscription left. Each is disabled and detached from its
 * slot first, so dropping it neither waits for nor touches the publisher.
 */
export const DROP_SUBSCRIPTIONS = `DO $x$
DECLARE
  sub text;
BEGIN
  LOCK TABLE pg_catalog.pg_subscription IN ACCESS EXCLUSIVE MODE;
  FOR sub IN SELECT s.subname FROM pg_catalog.pg_subscription s
              WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  LOOP
    EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', sub);
    EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', sub);
    EXECUTE format('DROP SUBSCRIPTION %I', sub);
  END LOOP;
END $x$`;

/**
 * No other role's table grant to `role` is left in the current database, so DROP ROLE cannot fail
 * on them: each is revoked as its grantor (a superuser's REVOKE only removes the owner's grants),
 * table by table (upstream's `ON ALL TABLES IN SCHEMA public` fails wherever the grantor itself
 * holds nothing). The name is dollar-quoted with a tag it does not contain (§5.4).
 */
export function revokeGrantsFrom(role: string): string {
  const { literal, outerTag } = dollarQuote(role);
  return `DO $${outerTag}$
DECLARE
  g record;
BEGIN
  FOR g IN SELECT DISTINCT rtg.grantor, rtg.table_schema, rtg.table_name FROM information_schema.role_table_grants rtg
            WHERE rtg.grantee = ${literal} AND rtg.grantor <> ${literal}
  LOOP
    EXECUTE format('SET LOCAL ROLE %I', g.grantor);
    EXECUTE format('REVOKE ALL PRIVILEGES ON TABLE %I.%I FROM %I GRANTED BY %I', g.table_schema, g.table_name, ${literal}, g.grantor);
  END LOOP;
  RESET ROLE;
END $${outerTag}$`;
}

/**
 * §5.8 migration 2: every member of the privileged role `priv` (validated ^[a-z_]+$) inherits its
 * privileges, and no other role but the built-in pg_* ones bypasses row-level security.
 */
export function inheritPrivilegedRole(priv: string): string {
  return `DO $x$
DECLARE
  role_name text;
BEGIN
  FOR role_name IN SELECT rolname FROM pg_catalog.pg_roles WHERE pg_has_role(rolname, '${priv}', 'member') LOOP
    EXECUTE 'ALTER ROLE ' || quote_ident(role_name) || ' INHERIT';
  END LOOP;
  FOR role_name IN SELECT rolname FROM pg_catalog.pg_roles
                    WHERE NOT pg_has_role(rolname, '${priv}', 'member') AND NOT starts_with(rolname, 'pg_') LOOP
    EXECUTE 'ALTER ROLE ' || quote_ident(role_name) || ' NOBYPASSRLS';
  END LOOP;
END $x$`;
}

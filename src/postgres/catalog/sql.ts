// SQL quoting (reference §5.4, §2.3).
import type { GenericOption } from '../../compute-spec/schema';

/** Identifier: always double-quoted, embedded `"` doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** String literal: `'…'` with `'` doubled, `E'…'` with `\` doubled when a backslash is present. */
export function quoteLiteral(value: string): string {
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/** Role/database options: `name value`, string values as literals, null value = just the name. */
export function renderSqlOptions(options: GenericOption[] | null | undefined): string {
  if (!options) return '';
  return options
    .map((o) => (o.value === null || o.value === undefined ? ` ${o.name}` : ` ${o.name} ${o.vartype === 'string' ? quoteLiteral(o.value) : o.value}`))
    .join('');
}

/** The password clause of CREATE/ALTER ROLE: SCRAM verbatim, md5 prefixed, null as NULL. */
export function passwordClause(encrypted: string | null | undefined): string {
  if (encrypted === null || encrypted === undefined) return 'PASSWORD NULL';
  const value = encrypted.startsWith('SCRAM-SHA-256') ? encrypted : `md5${encrypted}`;
  return `PASSWORD ${quoteLiteral(value)}`;
}

/** Whether the catalog's rolpassword already is the spec's hash (md5 stored with its prefix). */
export function samePassword(catalog: string | null, spec: string | null | undefined): boolean {
  if (spec === null || spec === undefined) return catalog === null;
  if (catalog === null) return false;
  return catalog === spec || (!spec.startsWith('SCRAM-SHA-256') && catalog === `md5${spec}`);
}

/**
 * A name as a dollar-quoted literal inside a DO block (§5.4): tag `x`, grown while the name
 * contains it. Returns the literal and the tag the enclosing DO block must use (`tag` + "x").
 */
export function dollarQuote(name: string): { literal: string; outerTag: string } {
  let tag = 'x';
  while (name.includes(tag)) tag += 'x';
  return { literal: `$${tag}$${name}$${tag}$`, outerTag: `${tag}x` };
}

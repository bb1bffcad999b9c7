// What the control plane asks of a running compute's Postgres directly (reference §6.3).
import { withAdminClient } from './admin-connection';
import { HEALTH_CHECK_UPSERT } from './catalog/plan';

/** `POST /check_writability`: one write that must commit; a full disk (53100) counts as writable. */
export async function checkWritability(connstr: string): Promise<void> {
  try {
    await withAdminClient(connstr, 'check_writability', (c) => c.query(HEALTH_CHECK_UPSERT));
  } catch (err) {
    if ((err as { code?: string }).code !== '53100') throw err;
  }
}

/**
 * `GET /insights`: the 100 slowest statements of other users than cloud_admin, as the text
 * `{"pg_stat_statements": [<row>, …]}` — which the route answers as a JSON string (Neon's wire
 * format encodes it twice). Without pg_stat_statements the text is Neon's, doubled braces included.
 */
export async function insights(connstr: string): Promise<string> {
  return withAdminClient(connstr, 'insights', async (c) => {
    try {
      const { rows } = await c.query<{ row: string }>(
        `SELECT row_to_json(pss)::text AS row FROM public.pg_stat_statements pss
          WHERE pss.userid != 'cloud_admin'::regrole::oid
          ORDER BY (pss.mean_exec_time + pss.mean_plan_time) DESC LIMIT 100`,
      );
      return `{"pg_stat_statements": [${rows.map((r) => r.row).join(',')}]}`;
    } catch (err) {
      if ((err as { code?: string }).code === undefined) throw err; // the connection failed, not the query
      return '{{"pg_stat_statements": []}}';
    }
  });
}

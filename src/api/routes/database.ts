// Routes that ask the compute's Postgres directly (reference §6.3), not the lifecycle workflow.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ComputeOperations } from '../../client';
import { listDbsAndRoles } from '../../postgres/catalog/inventory';
import { checkWritability, insights } from '../../postgres/probes';
import { dumpSchema } from '../../postgres/schema-dump';
import { requireRunning } from '../common';
import { DbsAndRolesSchema, errors } from '../schemas';

export interface PostgresRoutesOptions {
  computes: ComputeOperations;
  computeId: string;
  connstr: string;
  /** Where pg_dump is (the postgres binary's directory). */
  pgbinDir: string;
}

const DatabaseQuery = Type.Object({ database: Type.String({ minLength: 1 }) });

export async function postgresRoutes(app: FastifyInstance, opts: PostgresRoutesOptions): Promise<void> {
  const { computes, computeId, connstr } = opts;


  app.get('/dbs_and_roles', { schema: { response: { 200: DbsAndRolesSchema, ...errors(500) } } }, async (request, reply) => {
    try {
      return await listDbsAndRoles(connstr);
    } catch (err) {
      request.log.warn({ err }, 'dbs_and_roles failed');
      return reply.code(500).send({ error: `failed to read databases and roles: ${(err as Error).message}` });
    }
  });

  app.post('/check_writability', { schema: { response: { 200: Type.Literal(true), ...errors(412, 500) } } }, async (request, reply) => {
    await requireRunning(computes, computeId);
    try {
      await checkWritability(connstr);
      return true;
    } catch (err) {
      request.log.warn({ err }, 'check_writability failed');
      return reply.code(500).send({ error: `failed to write to the database: ${(err as Error).message}` });
    }
  });

  app.get<{ Querystring: Static<typeof DatabaseQuery> }>(
    '/database_schema',
    { schema: { querystring: DatabaseQuery, response: errors(400, 404, 500) } },
    async (request, reply) => {
      const dump = await dumpSchema(opts.pgbinDir, connstr, request.query.database);
      if (dump.kind === 'missing') return reply.code(404).send({ error: 'database does not exist' });
      if (dump.kind === 'failed') return reply.code(500).send({ error: dump.message });
      // A client that goes away ends pg_dump too.
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished && dump.child.exitCode === null) dump.child.kill('SIGKILL');
      });
      // Neon's content type for this SQL text, kept for its clients.
      return reply.type('application/json').send(dump.stdout);
    },
  );

  // Neon's wire format: a JSON string holding the JSON text (encoded twice).
  app.get('/insights', { schema: { response: { 200: Type.String(), ...errors(412, 500) } } }, async (request, reply) => {
    await requireRunning(computes, computeId);
    try {
      return reply.type('application/json').send(JSON.stringify(await insights(connstr)));
    } catch (err) {
      request.log.warn({ err }, 'insights failed');
      return reply.code(500).send({ error: `failed to read pg_stat_statements: ${(err as Error).message}` });
    }
  });
}

// Routes that read the compute's catalog directly (reference §6.3).
import type { FastifyInstance } from 'fastify';
import { listDbsAndRoles } from '../../postgres/catalog/inventory';

export async function catalogRoutes(app: FastifyInstance, opts: { connstr: string }): Promise<void> {
  app.get('/dbs_and_roles', async (request, reply) => {
    try {
      return await listDbsAndRoles(opts.connstr);
    } catch (err) {
      request.log.warn({ err }, 'dbs_and_roles failed');
      return reply.code(500).send({ error: `failed to read databases and roles: ${(err as Error).message}` });
    }
  });
}

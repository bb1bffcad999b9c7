// §6.3's LFC routes: the prewarm and offload states as the lifecycle last reported them, and the
// requests that start (or cancel) one, answered as soon as the lifecycle has recorded them.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ComputeOperations } from '../../client';
import { errors, LfcOffloadStateSchema, LfcPrewarmStateSchema } from '../schemas';

const PrewarmQuery = Type.Object({
  /** Another endpoint's state (a replica warmed with its primary's cache before /promote). */
  from_endpoint: Type.Optional(Type.String({ minLength: 1 })),
});

const Accepted = Type.Null({ description: 'accepted: the operation runs in the background; GET says how it ends' });

export interface LfcRoutesOptions {
  computes: ComputeOperations;
  computeId: string;
}

export async function lfcRoutes(app: FastifyInstance, opts: LfcRoutesOptions): Promise<void> {
  const { computes, computeId } = opts;
  const refusals = errors(404, 412, 429, 503, 504);

  app.get('/lfc/prewarm', { schema: { response: { 200: LfcPrewarmStateSchema } } }, async () => (await computes.lfcStates(computeId)).prewarm);

  app.post<{ Querystring: Static<typeof PrewarmQuery> }>(
    '/lfc/prewarm',
    { schema: { querystring: PrewarmQuery, response: { 202: Accepted, ...errors(400), ...refusals } } },
    async (request, reply) => {
      await computes.prewarmLfc(computeId, request.query.from_endpoint ?? null);
      return reply.code(202).send();
    },
  );

  app.delete('/lfc/prewarm', { schema: { response: { 202: Accepted, ...refusals } } }, async (_request, reply) => {
    await computes.cancelLfcPrewarm(computeId);
    return reply.code(202).send();
  });

  app.get('/lfc/offload', { schema: { response: { 200: LfcOffloadStateSchema } } }, async () => (await computes.lfcStates(computeId)).offload);

  app.post('/lfc/offload', { schema: { response: { 202: Accepted, ...refusals } } }, async (_request, reply) => {
    await computes.offloadLfc(computeId);
    return reply.code(202).send();
  });
}

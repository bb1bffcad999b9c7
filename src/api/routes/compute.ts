// The external API's compute routes (reference §6.3), each a thin mapping onto the lifecycle
// workflow through the compute client.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ComputeOperations } from '../../client';
import { TERMINATE_MODES, type TerminateMode } from '../../compute/views';
import { parseConfigurationRequest, parsePromoteRequest } from '../../compute-spec/parse';
import { ComputeSpecSchema, ConfigurationRequestSchema, LsnPattern } from '../../compute-spec/schema';
import { RequestError } from '../common';
import { errors, PromoteCompletedSchema, PromoteFailedSchema, StartupMetricsSchema, StatusViewSchema, TerminateResponseSchema } from '../schemas';

const TerminateQuery = Type.Object({
  mode: Type.Optional(Type.Unsafe<TerminateMode>({ type: 'string', enum: [...TERMINATE_MODES] })),
});

export interface ComputeRoutesOptions {
  computes: ComputeOperations;
  computeId: string;
}

/** /promote's body as the document shows it: the spec it runs as a Primary, the old primary's flush LSN. */
const PromoteRequestBody = Type.Object({ spec: ComputeSpecSchema, wal_flush_lsn: Type.String({ pattern: LsnPattern }) });

/**
 * A body the route checks itself, with the spec's parser (the same schemas, and the texts Neon
 * answers: 422 naming the field, 400 for §2.7's rules): declared for the document, and not checked
 * a second time by Fastify.
 */
const checkedByTheParser = () => (data: unknown) => ({ value: data });

export async function computeRoutes(app: FastifyInstance, opts: ComputeRoutesOptions): Promise<void> {
  const { computes, computeId } = opts;

  app.get('/status', { schema: { response: { 200: StatusViewSchema } } }, async () => computes.status(computeId));

  app.get('/metrics.json', { schema: { response: { 200: StartupMetricsSchema } } }, async () => (await computes.status(computeId)).startup_metrics);

  app.post(
    '/configure',
    { schema: { body: ConfigurationRequestSchema, response: { 200: StatusViewSchema, ...errors(400, 404, 412, 422, 500, 503, 504) } }, validatorCompiler: checkedByTheParser },
    async (request) => computes.configure(computeId, parseConfigurationRequest(request.body), request.id),
  );

  // §6.3: a Replica becomes a Primary. Concurrent calls share one promotion and get its answer.
  app.post(
    '/promote',
    {
      schema: { body: PromoteRequestBody, response: { 200: PromoteCompletedSchema, 500: PromoteFailedSchema, ...errors(400, 404, 412, 503, 504) } },
      validatorCompiler: checkedByTheParser,
    },
    async (request, reply) => {
      const promote = parsePromoteRequest(request.body);
      const state = await computes.promote(computeId, promote.spec, promote.walFlushLsn, request.id);
      return reply.code(state.status === 'completed' ? 200 : 500).send(state);
    },
  );

  app.post<{ Querystring: Static<typeof TerminateQuery> }>(
    '/terminate',
    {
      schema: { querystring: TerminateQuery, response: { 200: TerminateResponseSchema, 201: TerminateResponseSchema, ...errors(400, 404, 412, 503, 504) } },
      // The one check of the mode: nothing else reaches Temporal.
      schemaErrorFormatter: (errors) =>
        new RequestError(400, `invalid termination mode: ${String((errors[0] as { data?: unknown } | undefined)?.data)} (expected fast or immediate)`),
    },
    async (request, reply) => {
      const mode = request.query.mode ?? 'fast';
      const result = await computes.terminate(computeId, mode, request.id);
      return reply.code(result.already_terminated ? 201 : 200).send({ lsn: result.lsn });
    },
  );
}

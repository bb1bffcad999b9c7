// The internal server's routes (reference §6.4), for Postgres itself and local_proxy: not
// authenticated, bound beside the external server.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ComputeOperations } from '../../client';
import { grantSchemaPrivileges, installExtension, SCHEMA_PRIVILEGES } from '../../postgres/local-requests';
import { ComputeError } from '../../compute/failures';
import { ExtensionRequestError, type RemoteExtensions } from '../../postgres/remote-extensions';
import { RequestError, requireRunning } from '../common';
import { errors } from '../schemas';

export interface InternalRoutesOptions {
  computes: ComputeOperations;
  computeId: string;
  connstr: string;
  /** Each POST /refresh_configuration (pg_cctl_pagestream_request_errors_total). */
  onRefreshRequested?: () => void;
  /** The pod's remote extensions (absent in tests of other routes: answered as without -r). */
  remoteExtensions?: RemoteExtensions;
}

const ExtensionRequest = Type.Object({ extension: Type.String({ minLength: 1 }), database: Type.String({ minLength: 1 }), version: Type.String({ minLength: 1 }) });
const GrantRequest = Type.Object({
  database: Type.String({ minLength: 1 }),
  schema: Type.String({ minLength: 1 }),
  role: Type.String({ minLength: 1 }),
  privileges: Type.Array(Type.Union(SCHEMA_PRIVILEGES.map((p) => Type.Literal(p)))),
});

/** A body that does not fit its schema: 422 (Neon's JSON extractor), naming the field. */
const unprocessable = (errs: { instancePath?: string; message?: string }[]) =>
  new RequestError(422, `${errs[0]?.instancePath?.replace(/^\//, '').replace(/\//g, '.') || 'body'}: ${errs[0]?.message ?? 'invalid'}`);

export async function internalRoutes(app: FastifyInstance, opts: InternalRoutesOptions): Promise<void> {
  const { computes, computeId, connstr } = opts;

  app.post<{ Body: Static<typeof ExtensionRequest> }>(
    '/extensions',
    { schema: { body: ExtensionRequest, response: { 201: Type.Object({ extension: Type.String(), version: Type.String() }), ...errors(412, 422, 500) } }, schemaErrorFormatter: unprocessable },
    async (request, reply) => {
      await requireRunning(computes, computeId);
      try {
        await installExtension(connstr, request.body);
      } catch (err) {
        return reply.code(500).send({ error: `failed to install extension: ${(err as Error).message}` });
      }
      return reply.code(201).send({ extension: request.body.extension, version: request.body.version });
    },
  );

  app.post<{ Body: Static<typeof GrantRequest> }>(
    '/grants',
    { schema: { body: GrantRequest, response: { 201: GrantRequest, ...errors(412, 422, 500) } }, schemaErrorFormatter: unprocessable },
    async (request, reply) => {
      await requireRunning(computes, computeId);
      try {
        await grantSchemaPrivileges(connstr, request.body);
      } catch (err) {
        return reply.code(500).send({ error: `failed to grant role privileges to the schema: ${(err as Error).message}` });
      }
      return reply.code(201).send(request.body);
    },
  );

  // §10: the neon extension's nudge after a failed pageserver connection. Answered once recorded;
  // the refresh itself runs in the lifecycle workflow. Neon answers 500 in a state that refuses it.
  app.post('/refresh_configuration', { schema: { response: { 200: Type.Null(), ...errors(500, 503, 504) } } }, async (_request, reply) => {
    opts.onRefreshRequested?.();
    try {
      await computes.refreshConfiguration(computeId);
    } catch (err) {
      if (err instanceof ComputeError && err.kind === 'invalid_status') return reply.code(500).send({ error: err.message });
      throw err;
    }
    return reply.code(200).send();
  });

  // §6.4: Postgres (the neon extension) asks for an extension's archive, or a library's
  // (?is_library=true); answered once it is installed.
  app.post<{ Params: { '*': string }; Querystring: { is_library?: string } }>(
    '/extension_server/*',
    {
      schema: {
        querystring: Type.Object({ is_library: Type.Optional(Type.String()) }),
        response: { 200: Type.Null(), ...errors(404, 409, 412, 500) },
      },
    },
    async (request, reply) => {
      const filename = request.params['*'];
      if (!opts.remoteExtensions) return reply.code(412).send({ error: 'remote storage is not configured' });
      try {
        await opts.remoteExtensions.request(filename, request.query.is_library === 'true');
      } catch (err) {
        if (err instanceof ExtensionRequestError) return reply.code(err.status).send({ error: err.message });
        throw err;
      }
      return reply.code(200).send();
    },
  );
}

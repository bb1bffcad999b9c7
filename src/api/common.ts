// Cross-cutting HTTP behaviour of both servers (reference §6.1): x-request-id on every exchange,
// `{"error": "…"}` bodies, 404/405 with empty bodies.
import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { ComputeOperations } from '../client';
import { ComputeError, type ComputeErrorKind } from '../compute/failures';
import { SpecError } from '../compute-spec/parse';
import { invalidStatusMessage } from '../compute/texts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The largest body accepted. A spec travels in Temporal payloads (the update, the child workflows'
 * inputs), which the server refuses from 2 MB on (blob size limit): a larger spec must be turned
 * away here, not fail a workflow task.
 */
export const BODY_LIMIT = 1024 * 1024;
/** Deeper JSON than any spec needs; deeper would overflow recursive code on the way to Temporal. */
export const MAX_JSON_DEPTH = 32;

/** Whether JSON text nests objects and arrays deeper than `max` (a scan, no recursion, no parse). */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function serverOptions(logLevel: string, computeId?: string): FastifyServerOptions {
  return {
    // pino's JSON lines, as the process's own (src/log.ts): with the compute they are about.
    logger: {
      level: logLevel,
      ...(computeId ? { base: { compute_id: computeId } } : {}),
      formatters: { level: (label: string) => ({ level: label }) },
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
    },
    bodyLimit: BODY_LIMIT,
    // Read by genReqId below (Fastify would take a present header as it is, whatever its length).
    requestIdHeader: false,
    // Schema errors carry the offending value, so that error texts can name it. The route schemas
    // are ours (TypeBox): checking them against the JSON Schema meta-schema cost ~40 ms of every boot.
    ajv: { customOptions: { verbose: true, validateSchema: false } },
    // The request id becomes the Temporal update id: accept only sane ones.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  };
}

export const HTTP_STATUS: Record<ComputeErrorKind, number> = {
  invalid_status: 412,
  in_progress: 429,
  configuration_failed: 500,
  not_found: 404,
  timeout: 504,
  unavailable: 503,
};

/** A request the route refuses, with the status and the text to answer (as is). */
export class RequestError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** 412 with the reference's text unless the compute is running (routes that need its Postgres up). */
export async function requireRunning(computes: ComputeOperations, computeId: string): Promise<void> {
  const { status } = await computes.status(computeId);
  if (status !== 'running') throw new RequestError(412, invalidStatusMessage(status));
}

export const commonPlugin = fp(async (app: FastifyInstance) => {
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // A request id becomes a Temporal update id: one given must be usable (genReqId took it as the
  // request's id), or the request is refused.
  app.addHook('onRequest', async (request) => {
    const given = request.headers['x-request-id'];
    if (given !== undefined && given !== request.id) {
      throw new RequestError(400, "invalid x-request-id: use 1 to 128 letters, digits, '.', '_', ':' or '-'");
    }
  });
  // Bodies are JSON, as Neon's axum extractor wants them: another media type is a 415.
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (nestedDeeperThan(body as string, MAX_JSON_DEPTH)) {
      return done(new RequestError(400, `request body is nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
    }
    parseJson(request, body as string, done);
  });

  // The one place where errors become answers (src/compute/failures.ts has the model).
  app.setErrorHandler((error: FastifyError | ComputeError | RequestError | SpecError, request, reply) => {
    if (error instanceof ComputeError) {
      return reply.code(HTTP_STATUS[error.kind]).send({ error: error.message });
    }
    if (error instanceof RequestError) return reply.code(error.statusCode).send({ error: error.message });
    // A body of the wrong shape: 422 naming the field (Neon's JSON extractor); a rule of §2.7: 400.
    if (error instanceof SpecError) return reply.code(error.kind === 'schema' ? 422 : 400).send({ error: error.message });
    if ((error as FastifyError).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send({ error: 'Expected request with `Content-Type: application/json`' });
    }
    if ((error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: `request body is larger than the limit of ${BODY_LIMIT} bytes (1 MiB)` });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'request failed');
    return reply.code(status).send({ error: status === 500 ? 'internal error' : error.message.toLowerCase() });
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const otherMethod = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].some(
      (method) => method !== request.method && app.hasRoute({ method, url: path }),
    );
    return reply.code(otherMethod ? 405 : 404).send();
  });
});

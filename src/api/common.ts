// Cross-cutting HTTP behaviour of both servers (reference §6.1): x-request-id on every exchange,
// `{"error": "…"}` bodies, 404/405 with empty bodies.
import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { ComputeOperations } from '../client';
import { ComputeError, type ComputeErrorKind } from '../compute/failures';
import { invalidStatusMessage } from '../compute/status';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function serverOptions(logLevel: string): FastifyServerOptions {
  return {
    logger: { level: logLevel },
    bodyLimit: 4 * 1024 * 1024,
    requestIdHeader: 'x-request-id',
    // Schema errors carry the offending value, so that error texts can name it.
    ajv: { customOptions: { verbose: true } },
    // The request id becomes the Temporal update id: accept only sane ones.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  };
}

export const HTTP_STATUS: Record<ComputeErrorKind, number> = {
  invalid_status: 412,
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

  app.setErrorHandler((error: FastifyError | ComputeError | RequestError, request, reply) => {
    if (error instanceof ComputeError) {
      return reply.code(HTTP_STATUS[error.kind]).send({ error: error.message });
    }
    if (error instanceof RequestError) return reply.code(error.statusCode).send({ error: error.message });
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

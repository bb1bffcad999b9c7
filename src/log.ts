// What the worker process says, one JSON object per line on stderr, with the compute it serves
// (and, from the Temporal SDK, the workflow and activity a line is about). Postgres' own log lines
// are not these: they keep Postgres' format, each prefixed `PG:` (postgres/pg-log.ts).
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

let context: Record<string, unknown> = {};

/** Fields every line carries from now on (the compute id, once known). */
export function setLogContext(fields: Record<string, unknown>): void {
  context = { ...context, ...fields };
}

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...context, ...fields })}\n`);
}

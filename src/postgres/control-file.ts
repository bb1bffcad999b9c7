// The latest checkpoint location of a stopped cluster, read from global/pg_control as
// pg_controldata prints it ("Latest checkpoint location"), without needing pg_controldata of the
// server's version (the embedded builds ship none). ControlFileData has begun the same way since
// PostgreSQL 9.x: system_identifier u64, pg_control_version u32, catalog_version_no u32, state
// i32, (padding), time i64, checkPoint u64 at offset 32. Little-endian, as the machines we run on.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** pg_control_version of 12-16 and of 17. */
const KNOWN_CONTROL_VERSIONS = new Set([1300, 1700]);

export async function latestCheckpointLsn(pgdata: string): Promise<string> {
  const file = path.join(pgdata, 'global', 'pg_control');
  const buf = await readFile(file);
  if (buf.length < 40) throw new Error(`${file} is too short to be a control file`);
  const version = buf.readUInt32LE(8);
  if (!KNOWN_CONTROL_VERSIONS.has(version)) throw new Error(`${file} has pg_control_version ${version}, which compute-ctl does not know`);
  const lsn = buf.readBigUInt64LE(32);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

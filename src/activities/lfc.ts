// LFC prewarm and offload in the pod (reference §6.3), on plain PostgreSQL's cache: the state is the
// list of blocks in shared_buffers (postgres/cached-blocks.ts), zstd-compressed in the endpoint
// storage. The lifecycle workflow owns the states and decides when these run; each returns the
// state it ended in, or throws (the workflow records `failed` with the error's text).
import { Context } from '@temporalio/activity';
import type { Counter } from 'prom-client';
import { CancelledFailure } from '@temporalio/common';
import { compress, init as initZstd } from '@bokuweb/zstd-wasm';
import { decompress } from 'fzstd';
import type { ParsedSpec } from '../compute-spec/parse';
import { ComputeFailure, FAILURE } from '../compute/failures';
import type { LfcOffloadState, LfcPrewarmState } from '../compute/views';
import { log } from '../log';
import { dumpCachedBlocks, LoadCancelled, loadCachedBlocks, parseBlockList } from '../postgres/cached-blocks';
import { lfcStateObject, readObject, writeObject } from '../storage/endpoint-storage';
import type { ComputeSettings } from './settings';

/** LFC prewarms and offloads (§7.1): attempts (autoprewarm and periodic ones included) and errors. */
export interface LfcCounters {
  prewarms: Counter;
  prewarmErrors: Counter;
  offloads: Counter;
  offloadErrors: Counter;
}

export interface PrewarmInput {
  spec: ParsedSpec;
  /** ?from_endpoint=: the state of another endpoint (a replica warmed with its primary's cache). */
  fromEndpoint: string | null;
}

/** Neon's compression level for the state (zstd's default). */
const ZSTD_LEVEL = 3;
let zstdReady: Promise<void> | null = null;

/** The activity's cancellation (DELETE /lfc/prewarm), or none when called outside one. */
function cancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

export function lfcActivities(s: ComputeSettings, counters: LfcCounters | undefined) {
  return {
    async prewarmLfc(input: PrewarmInput): Promise<LfcPrewarmState> {
      counters?.prewarms.inc();
      const signal = cancellation();
      try {
        const object = lfcStateObject(input.spec, input.fromEndpoint);
        log('info', 'requesting LFC state from endpoint storage', { url: object.url });
        let t = Date.now();
        const compressed = await readObject(object, signal);
        if (compressed === null) return { status: 'skipped' };
        const state_download_time_ms = Date.now() - t;
        t = Date.now();
        const text = Buffer.from(decompress(compressed)).toString('latin1');
        const uncompress_time_ms = Date.now() - t;
        t = Date.now();
        const loaded = await loadCachedBlocks(s.connstr, parseBlockList(text), signal);
        log('info', 'LFC prewarmed', { ...loaded });
        return { status: 'completed', ...loaded, state_download_time_ms, uncompress_time_ms, prewarm_time_ms: Date.now() - t };
      } catch (err) {
        if (err instanceof LoadCancelled || signal?.aborted) throw new CancelledFailure('LFC prewarm cancelled');
        counters?.prewarmErrors.inc();
        log('error', `could not prewarm LFC: ${(err as Error).message}`);
        throw ComputeFailure.permanent(FAILURE.lfcPrewarmFailed, (err as Error).message);
      }
    },

    async offloadLfc(spec: ParsedSpec): Promise<LfcOffloadState> {
      counters?.offloads.inc();
      try {
        const object = lfcStateObject(spec);
        let t = Date.now();
        const state = await dumpCachedBlocks(s.connstr);
        if (state === null) {
          log('info', 'empty LFC state, not exporting', { url: object.url });
          return { status: 'skipped' };
        }
        const state_query_time_ms = Date.now() - t;
        t = Date.now();
        await (zstdReady ??= initZstd());
        const compressed = compress(state, ZSTD_LEVEL);
        const compress_time_ms = Date.now() - t;
        t = Date.now();
        await writeObject(object, compressed);
        return { status: 'completed', state_query_time_ms, compress_time_ms, state_upload_time_ms: Date.now() - t };
      } catch (err) {
        counters?.offloadErrors.inc();
        log('error', `could not offload LFC: ${(err as Error).message}`);
        throw ComputeFailure.permanent(FAILURE.lfcOffloadFailed, (err as Error).message);
      }
    },
  };
}

// Remote extensions at a start (reference §4.2 step 2): the spec's control files written and the
// preloaded libraries' archives downloaded before Postgres starts, by the pod's RemoteExtensions
// (which then answers Postgres' own requests on the internal route). Download failures are
// reported in the step's result and the log, not fatal, as Neon's.
import { findOption, type ParsedSpec } from '../compute-spec/parse';
import { log } from '../log';
import { preloadLibraries, type RemoteExtensions } from '../postgres/remote-extensions';

export interface RemoteExtensionsResult {
  load_ext_ms: number;
  num_ext_downloaded: number;
  largest_ext_size: number;
  total_ext_download_size: number;
  failures: string[];
}

export function extensionActivities(remote: RemoteExtensions | undefined) {
  return {
    async prepareRemoteExtensions(parsed: ParsedSpec): Promise<RemoteExtensionsResult> {
      const t0 = Date.now();
      const spec = parsed.spec.remote_extensions;
      if (!remote || !spec) return { load_ext_ms: 0, num_ext_downloaded: 0, largest_ext_size: 0, total_ext_download_size: 0, failures: [] };
      const libraries = preloadLibraries(findOption(parsed.spec.cluster.settings, 'shared_preload_libraries'), parsed.spec.cluster.postgresql_conf);
      const { downloaded, failures } = await remote.prepareForStart(spec, libraries);
      for (const f of failures) log('warn', `remote extension not downloaded (the start goes on): ${f}`);
      const sizes = downloaded.map((d) => d.bytes);
      return {
        load_ext_ms: Date.now() - t0,
        num_ext_downloaded: downloaded.length,
        largest_ext_size: Math.max(0, ...sizes),
        total_ext_download_size: sizes.reduce((a, b) => a + b, 0),
        failures,
      };
    },
  };
}

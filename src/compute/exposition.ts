// The Prometheus text exposition as the pod and the orchestrators serve it: pure text, shared by
// the pod's own metrics and Temporal Core's.

/**
 * The text exposition without the families that have no sample (§7.1: a label vector appears only
 * once used, e.g. no lease gauges on a compute that holds no lease).
 */
export function omitEmptyFamilies(text: string): string {
  const out: string[] = [];
  let block: string[] = [];
  let samples = 0;
  const flush = () => {
    if (samples > 0) out.push(...block);
    block = [];
    samples = 0;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) flush();
    if (line === '') continue;
    block.push(line);
    if (!line.startsWith('#')) samples++;
  }
  flush();
  return out.length ? `${out.join('\n')}\n` : '';
}

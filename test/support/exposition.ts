// Checks a Prometheus text exposition as `promtool check metrics` does (and runs promtool too when
// it is installed): every family has HELP and TYPE before its samples, names and labels are
// well-formed, counters end in _total, no family or sample appears twice.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/;

const NEON_NAMES_LINT = [/^compute_pg_(current_downtime_ms|downtime_ms_total) metric names should not contain abbreviated units$/];

export function assertValidExposition(text: string): Map<string, { type: string; samples: string[] }> {
  const families = new Map<string, { type: string; samples: string[] }>();
  const seen = new Set<string>();
  let current: string | null = null;
  let helped: string | null = null;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = /^# HELP (\S+) (.+)$/.exec(line);
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      assert.match(help[1], NAME);
      assert.ok(!families.has(help[1]), `family ${help[1]} appears twice`);
      helped = help[1];
      continue;
    }
    if (type) {
      assert.equal(type[1], helped, `TYPE of ${type[1]} follows its HELP`);
      if (type[2] === 'counter') assert.match(type[1], /_total$/, `counter ${type[1]} ends in _total`);
      families.set(type[1], { type: type[2], samples: [] });
      current = type[1];
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
    const m = SAMPLE.exec(line);
    assert.ok(m, `malformed sample: ${line}`);
    assert.ok(current && (m[1] === current || m[1].startsWith(`${current}_`)), `sample ${m[1]} outside its family`);
    let labels = m[3] ?? '';
    while (labels.length) {
      const l = LABEL.exec(labels);
      assert.ok(l, `malformed labels in: ${line}`);
      labels = labels.slice(l[0].length);
    }
    assert.ok(!seen.has(`${m[1]}{${m[3] ?? ''}}`), `sample appears twice: ${line}`);
    seen.add(`${m[1]}{${m[3] ?? ''}}`);
    families.get(current)!.samples.push(line);
  }
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (!promtool.error) {
    // Its lint of names is advice; Neon's names (§7.1) are kept as they are.
    const problems = `${promtool.stdout}${promtool.stderr}`
      .split('\n')
      .filter((l) => l.trim() && !NEON_NAMES_LINT.some((ok) => ok.test(l.trim())));
    assert.deepEqual(problems, [], 'promtool check metrics');
  }
  return families;
}

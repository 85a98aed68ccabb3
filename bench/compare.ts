/**
 * Before and after in one run: `node --import tsx bench/compare.ts <other-tree> [rounds]` runs
 * bench/run.ts of another checkout (a `git worktree` of the commit to compare against, with its
 * own `npm ci`) and of this one alternately, `rounds` times each (default 3), and prints, per
 * figure of the benches' machine-readable lines, the median and the range of each tree.
 * Alternating spreads a machine's drift over both trees instead of charging it to one.
 *
 * The BENCH_* settings of the environment apply to every run (e.g. BENCH_DURATION=8).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = resolve(fileURLToPath(new URL('..', import.meta.url)));

type Figures = Record<string, number>;

/** Runs one tree's bench; its `bench...: key=value ...` lines, as figures. */
function runBench(tree: string): Promise<Figures> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts'], { cwd: tree, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; process.stdout.write(d); });
    child.on('exit', (code) => {
      const figures: Figures = {};
      for (const line of out.split('\n')) {
        const m = /^(bench(?:-[a-z]+)?): (.*)$/.exec(line);
        if (!m || !m[2].includes('=')) continue;
        for (const pair of m[2].trim().split(/\s+/)) {
          const [k, v] = pair.split('=');
          const n = Number(v);
          if (Number.isFinite(n)) figures[`${m[1]}.${k}`] = n;
        }
      }
      if (Object.keys(figures).length === 0) fail(new Error(`${tree}: the bench printed no figures (exit ${code})`));
      else ok(figures);
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const other = process.argv[2];
  if (!other) throw new Error('usage: bench/compare.ts <other-tree> [rounds]');
  const rounds = Number(process.argv[3] ?? 3);
  const trees = { before: resolve(other), after: HERE };
  const runs: Record<keyof typeof trees, Figures[]> = { before: [], after: [] };
  for (let i = 0; i < rounds; i++) {
    for (const name of ['before', 'after'] as const) {
      console.log(`\n==== round ${i + 1}/${rounds}: ${name} (${trees[name]}) ====`);
      runs[name].push(await runBench(trees[name]));
    }
  }
  const keys = [...new Set([...runs.before, ...runs.after].flatMap((f) => Object.keys(f)))];
  const cell = (name: keyof typeof trees, k: string) => {
    const xs = runs[name].map((f) => f[k]).filter((x) => x !== undefined);
    return xs.length === 0 ? '-' : `${median(xs)} (${Math.min(...xs)}–${Math.max(...xs)})`;
  };
  console.log(`\nmedian (range) over ${rounds} alternating runs each; before = ${trees.before}`);
  console.log(`| figure | before | after |\n|---|---|---|`);
  for (const k of keys) console.log(`| ${k} | ${cell('before', k)} | ${cell('after', k)} |`);
}

main().catch((err) => {
  console.error(`compare: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});

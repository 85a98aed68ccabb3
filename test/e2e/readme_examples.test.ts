/**
 * The README's examples run as a reader runs them: in README order, twice, against a real
 * server, each exiting 0.
 *
 * Every ```ts, ```js, ```sh and ```bash block of the README carries a marker comment on the line
 * before its fence (invisible when rendered):
 *
 *   <!-- example: run -->             a program of its own
 *   <!-- example: continued -->       appended to the last runnable program in its language (its variables)
 *   <!-- example: not run: reason --> a fragment or a command that cannot run here, with why
 *
 * A block without a marker, a malformed marker, or a `continued` block with nothing to continue
 * fails the test, so no new example escapes it. TypeScript and JavaScript run with tsx, shell
 * blocks with bash, where `curl` fails on an HTTP error status (as with --fail-with-body). The
 * server is the test server on a free port: the only change made to a block is its address
 * (127.0.0.1:4242 -> the test server's), and every variable the blocks read that names a key
 * (`$ONCEPAY_KEY`, `process.env.ONCEPAY_KEY`, whatever the README calls it) is set to the secret
 * key of the test server's account.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useTestServer } from '../helpers/server.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Block { lang: string; line: number; code: string; marker: string }
interface Program { lang: 'ts' | 'sh'; lines: number[]; code: string }

const CODE_LANGS: Record<string, Program['lang']> = { ts: 'ts', js: 'ts', sh: 'sh', bash: 'sh' };
const MARKER = /^<!-- example: (run|continued|not run: .+) -->$/;

/** The fenced blocks of a Markdown text, with the marker line before each (or ''). */
function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    assert.ok(end > i, `README.md:${i + 1}: a code fence that never closes`);
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    blocks.push({ lang: open[1], line: i + 1, code: lines.slice(i + 1, end).join('\n'), marker: before >= 0 ? lines[before].trim() : '' });
    i = end;
  }
  return blocks;
}

/** The programs the marked blocks make, in README order; throws naming the line of a block that cannot run. */
function programsOf(blocks: Block[]): { programs: Program[]; skipped: number } {
  const programs: Program[] = [];
  const lastOf: Partial<Record<Program['lang'], Program>> = {};
  let skipped = 0;
  for (const b of blocks) {
    const lang = CODE_LANGS[b.lang];
    const marker = MARKER.exec(b.marker)?.[1];
    if (!lang) {
      assert.equal(marker, undefined, `README.md:${b.line}: a \`${b.lang || 'plain'}\` block is marked, but only ts, js, sh and bash blocks can run`);
      continue;
    }
    assert.ok(marker, `README.md:${b.line}: this \`${b.lang}\` block has no example marker (<!-- example: run -->, <!-- example: continued --> or <!-- example: not run: reason -->) on the line before it`);
    if (marker.startsWith('not run')) {
      skipped++;
      continue;
    }
    const last = lastOf[lang];
    if (marker === 'continued') {
      assert.ok(last, `README.md:${b.line}: a \`continued\` block must follow a runnable ${b.lang} block`);
      last.lines.push(b.line);
      last.code += `\n${b.code}`;
      continue;
    }
    const program: Program = { lang, lines: [b.line], code: b.code };
    lastOf[lang] = program;
    programs.push(program);
  }
  return { programs, skipped };
}

/** The names of the environment variables the programs read that hold a key. */
function keyVariables(programs: Program[]): string[] {
  const names = new Set<string>();
  for (const p of programs) {
    for (const m of p.code.matchAll(/(?:\$\{?|process\.env\.)([A-Z][A-Z0-9_]*KEY)\b/g)) names.add(m[1]);
  }
  return [...names];
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((done, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    child.on('error', reject);
    child.on('close', (code) => done({ code, output }));
  });
}

/** Makes curl fail on an HTTP error status, as a reader would notice one. */
const SH_PRELUDE = 'set -eo pipefail\ncurl() { local s=0; command curl --silent --show-error --fail-with-body "$@" || s=$?; echo; return $s; }\n';

test('the marker rules catch an unmarked block, a bad marker and an orphan continuation', () => {
  assert.throws(() => programsOf(fencedBlocks('text\n\n```ts\nconsole.log(1)\n```\n')), /README\.md:3: this `ts` block has no example marker/);
  assert.throws(() => programsOf(fencedBlocks('<!-- example: maybe -->\n```sh\nls\n```\n')), /README\.md:2: this `sh` block has no example marker/);
  assert.throws(() => programsOf(fencedBlocks('<!-- example: continued -->\n```ts\nx\n```\n')), /README\.md:2: a `continued` block must follow/);
  assert.throws(() => programsOf(fencedBlocks('<!-- example: run -->\n```python\nx\n```\n')), /only ts, js, sh and bash blocks can run/);
  const { programs, skipped } = programsOf(fencedBlocks([
    '<!-- example: run -->', '```ts', 'const a = 1;', '```', 'prose', '', '<!-- example: continued -->', '```ts', 'console.log(a);', '```',
    '<!-- example: not run: starts a server -->', '```sh', 'npm start', '```', '```', 'output', '```',
  ].join('\n')));
  assert.deepEqual(programs, [{ lang: 'ts', lines: [2, 8], code: 'const a = 1;\nconsole.log(a);' }]);
  assert.equal(skipped, 1);
});

const { server } = useTestServer();

test('every runnable README example runs in order, twice, against a real server', { timeout: 600_000 }, async () => {
  const { programs } = programsOf(fencedBlocks(README));
  assert.ok(programs.some((p) => p.lang === 'ts') && programs.some((p) => p.lang === 'sh'), 'the README has runnable TypeScript and shell examples');
  const variables = keyVariables(programs);
  assert.ok(variables.length > 0, 'the examples read the key from the environment');
  const env = Object.fromEntries(variables.map((v) => [v, server.key]));
  // A directory of its own whose packages are the repository's (the reader's project has them installed).
  const dir = mkdtempSync(join(tmpdir(), 'oncepay-readme-'));
  try {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
    const address = (code: string) => code.replaceAll('127.0.0.1:4242', `127.0.0.1:${server.port}`).replace(/\bport: 4242\b/g, `port: ${server.port}`);
    for (const round of [1, 2]) {
      for (const [i, p] of programs.entries()) {
        const where = `README.md:${p.lines.join(',')} (round ${round})`;
        const file = join(dir, `example_${i}.${p.lang}`);
        writeFileSync(file, p.lang === 'sh' ? SH_PRELUDE + address(p.code) : address(p.code));
        const result = p.lang === 'sh'
          ? await run('bash', [file], dir, env)
          : await run(process.execPath, ['--import', 'tsx', file], dir, env);
        if (process.env.README_EXAMPLES_VERBOSE) console.log(where, result.output);
        assert.equal(result.code, 0, `${where} exited ${result.code}:\n${result.output}`);
        assert.doesNotMatch(result.output, /"error":\s*\{/, `${where} printed an API error:\n${result.output}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

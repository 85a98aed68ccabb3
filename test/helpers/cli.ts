/**
 * The real `oncepay` command as a child process (`node bin/oncepay.js ...`, as `npx oncepay`
 * runs it), with a clean environment: only what a test passes, plus PATH, a private HOME and
 * ONCEPAY_HOME. Every child is tracked so `killAllClis()` (call it from `after`) leaves nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedEnv } from './store.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BIN = join(ROOT, 'bin', 'oncepay.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stdout (or stderr with `from: 'stderr'`); rejects on exit or timeout. */
  waitFor(re: RegExp, opts?: { from?: 'stdout' | 'stderr'; timeoutMs?: number }): Promise<RegExpMatchArray>;
  /** Sends `signal` (default SIGINT, like ^C) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
  exited: Promise<CliResult>;
}

const live = new Set<ChildProcess>();
let home: string | undefined;

/** A HOME of this test process's own (listen keeps its secret under it). */
export function cliHome(): string {
  home ??= mkdtempSync(join(tmpdir(), 'oncepay-cli-home-'));
  return home;
}

export function startCli(args: string[], env: Record<string, string | undefined> = {}): CliProcess {
  const fullEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: cliHome(), ONCEPAY_HOME: join(cliHome(), '.oncepay'), ...embeddedEnv() };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fullEnv[k] = v;
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<CliResult>((ok) => {
    child.once('close', (code, signal) => { live.delete(child); ok({ code, signal, stdout: out, stderr: err }); });
  });
  let finished = false;
  void exited.then(() => { finished = true; });
  return {
    child, exited,
    stdout: () => out,
    stderr: () => err,
    async waitFor(re, opts = {}) {
      const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
      for (;;) {
        const m = (opts.from === 'stderr' ? err : out).match(re);
        if (m) return m;
        if (finished) throw new Error(`oncepay ${args.join(' ')} exited before printing ${re}:\n--- stdout\n${out}\n--- stderr\n${err}`);
        if (Date.now() > deadline) throw new Error(`oncepay ${args.join(' ')} did not print ${re} in time:\n--- stdout\n${out}\n--- stderr\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGINT') {
      if (!finished) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the command to its end (killed after `timeoutMs`). */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 30_000): Promise<CliResult> {
  const p = startCli(args, env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** For failure messages. */
export const show = (r: CliResult) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** Kills every CLI still running and removes the private HOME. For `after`. */
export async function killAllClis(): Promise<void> {
  const children = [...live];
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('close', r)))));
  if (home) rmSync(home, { recursive: true, force: true });
  home = undefined;
}

process.once('exit', () => { for (const c of live) c.kill('SIGKILL'); });

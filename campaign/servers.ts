/**
 * The Oncepay server processes of a campaign: `node --import tsx src/cli/main.ts serve` on a
 * fixed loopback port (its proxy forwards there across restarts), supervised: whatever ends a
 * process, it is started again (after a kill -9, a SIGTERM, a self-kill armed with
 * ONCEPAY_TEST_FAULTS, or a crash nobody asked for, which is reported).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './prng.ts';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CLI = join(ROOT, 'src', 'cli', 'main.ts');

export type ServerState = 'down' | 'starting' | 'up' | 'paused';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface UnexpectedExit {
  server: string;
  at: number;
  exit: Exit;
  rule: string | undefined;
  outputTail: string;
  /** The crash in one line: its first error line, its code, and whether it was an unhandled 'error' event. */
  signature: string;
}

export function crashSignature(output: string): string {
  const error = /^(?:[A-Za-z]*Error|error): .*$/m.exec(output)?.[0];
  const code = /code: '([0-9A-Z]+)'/.exec(output)?.[1];
  const emitted = /Emitted 'error' event on (\w+) instance/.exec(output)?.[1];
  const unhandled = /Unhandled 'error' event/.test(output);
  const last = output.trim().split('\n').filter((l) => l.trim() && !l.startsWith('====')).at(-1) ?? '(no output)';
  return [
    unhandled ? `unhandled 'error' event${emitted ? ` on a ${emitted}` : ''}:` : '',
    error ?? last,
    code ? `(code ${code})` : '',
  ].filter(Boolean).join(' ');
}

export interface ServerHooks {
  /** The ONCEPAY_TEST_FAULTS rule for the next start (undefined: none); `after` says why it stopped. */
  chooseRule(server: OncepayServer, after: 'fault' | 'self_kill' | 'crash' | 'start'): string | undefined;
  onSelfKill(server: OncepayServer, rule: string): void;
  onUnexpectedExit(e: UnexpectedExit): void;
  log(msg: string): void;
}

export class OncepayServer {
  state: ServerState = 'down';
  child?: ChildProcess;
  /** The fault rule the running process was started with. */
  rule?: string;
  starts = 0;
  startFailures = 0;
  /** Set while the campaign tears down: no more restarts. */
  stopped = false;
  private expectExit = false;
  private tail = '';
  /** What the current process wrote (the start of a crash report included). */
  private current = '';
  private readonly log: WriteStream;
  private starting?: Promise<void>;
  private exited?: Promise<Exit>;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    logDir: string,
    private readonly hooks: ServerHooks,
  ) {
    this.log = createWriteStream(join(logDir, `server-${name}.log`), { flags: 'a' });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  outputTail(): string {
    return this.tail;
  }

  private write(text: string): void {
    this.log.write(text);
    this.tail = (this.tail + text).slice(-6000);
    if (this.current.length < 20_000) this.current += text;
  }

  /** Starts the process (retrying while it fails to start, e.g. while PostgreSQL restarts). */
  start(rule?: string): Promise<void> {
    // Already running (the supervisor and ensureUp may both ask): never a second process on the port.
    if (this.state === 'up' || this.state === 'paused') return Promise.resolve();
    this.starting ??= this.startLoop(rule).finally(() => { this.starting = undefined; });
    return this.starting;
  }

  private async startLoop(rule?: string): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.spawnOnce(rule);
        return;
      } catch (err) {
        const exit = (err as { exit?: Exit }).exit;
        if (exit?.signal === 'SIGKILL' && rule && !this.expectExit) {
          // Armed, and its completer ran into the rule before the listener was up: a self-kill.
          this.hooks.onSelfKill(this, rule);
          rule = undefined;
          continue;
        }
        this.startFailures++;
        this.hooks.log(`server ${this.name}: start attempt ${attempt} failed: ${String((err as Error).message).split('\n')[0]}`);
        if (attempt >= 20) throw err;
        await sleep(Math.min(5000, 500 * attempt));
      }
    }
  }

  private spawnOnce(rule?: string): Promise<void> {
    const env: Record<string, string> = { ...this.env, PORT: String(this.port) };
    if (rule) env.ONCEPAY_TEST_FAULTS = rule;
    else delete env.ONCEPAY_TEST_FAULTS;
    this.current = '';
    this.write(`\n==== ${new Date().toISOString()} start${rule ? ` with ONCEPAY_TEST_FAULTS=${rule}` : ''} ====\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.rule = rule;
    this.state = 'starting';
    this.expectExit = false;
    let out = '';
    const exited = new Promise<Exit>((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
    this.exited = exited;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.write(d); if (out.length < 4000) out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.write(d); if (out.length < 4000) out += d; });
    return new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`did not start within 120 s:\n${out}`)); }, 120_000);
      const onData = () => {
        if (!out.includes('Oncepay listening on')) return;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        this.state = 'up';
        this.starts++;
        void exited.then((e) => this.onExit(child, e));
        ok();
      };
      child.stdout!.on('data', onData);
      void exited.then((e) => {
        if (this.state !== 'starting' || this.child !== child) return;
        clearTimeout(timer);
        this.state = 'down';
        fail(Object.assign(new Error(`exited during startup (code ${e.code}, signal ${e.signal}): ${out.slice(-1500)}`), { exit: e }));
      });
    });
  }

  private onExit(child: ChildProcess, e: Exit): void {
    if (this.child !== child) return;
    this.state = 'down';
    const expected = this.expectExit;
    const rule = this.rule;
    this.write(`\n==== ${new Date().toISOString()} exit code ${e.code} signal ${e.signal}${expected ? ' (sent by the campaign)' : ''} ====\n`);
    const selfKill = !expected && e.signal === 'SIGKILL' && rule !== undefined;
    if (!expected) {
      if (selfKill) this.hooks.onSelfKill(this, rule!);
      else this.hooks.onUnexpectedExit({ server: this.name, at: Date.now(), exit: e, rule, outputTail: this.current.slice(-3000), signature: crashSignature(this.current) });
    }
    if (this.stopped) return;
    // Supervision: start it again at once (the proxy resets clients meanwhile).
    const after = expected ? 'fault' : selfKill ? 'self_kill' : 'crash';
    void sleep(200).then(() => (this.stopped ? undefined : this.start(this.hooks.chooseRule(this, after)))).catch((err) => {
      this.hooks.log(`server ${this.name}: could not be restarted: ${(err as Error).message}`);
    });
  }

  /** kill -9; resolves when the process is gone (the supervisor then starts it again). */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || this.state === 'down' || this.state === 'starting') return;
    this.expectExit = true;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: a graceful shutdown (drain, release locks); SIGKILL if it takes more than 30 s. */
  async term(): Promise<void> {
    const child = this.child;
    if (!child || this.state === 'down' || this.state === 'starting') return;
    this.expectExit = true;
    if (this.state === 'paused') this.resume();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  pause(): boolean {
    if (this.state !== 'up' || !this.child) return false;
    this.child.kill('SIGSTOP');
    this.state = 'paused';
    return true;
  }

  resume(): void {
    if (this.state !== 'paused' || !this.child) return;
    this.child.kill('SIGCONT');
    this.state = 'up';
  }

  /** Waits until the process is up (started by the supervisor, or now). */
  async ensureUp(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if (this.state === 'paused') this.resume();
    while (Date.now() < deadline) {
      if (this.state === 'up') return true;
      if (this.state === 'down' && !this.starting) void this.start(this.hooks.chooseRule(this, 'crash')).catch(() => {});
      await sleep(200);
    }
    return this.state === 'up';
  }

  /** Teardown: no restart, SIGKILL, wait. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      this.expectExit = true;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await this.exited;
    }
    await new Promise<void>((r) => this.log.end(() => r()));
  }

  killSync(): void {
    this.stopped = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      this.expectExit = true;
      try { child.kill('SIGKILL'); } catch { /* gone */ }
    }
  }
}

/**
 * The fault loop: at random intervals it kills a server with SIGKILL (the supervisor starts it
 * again, often armed with an ONCEPAY_TEST_FAULTS rule so that it kills itself at a named phase
 * of a later request), restarts PostgreSQL (`pg_ctl restart -m fast`, sometimes `-m immediate`),
 * pauses a server with SIGSTOP for longer than the lock timeout, or stops one gracefully
 * (SIGTERM: drain, release locks). One fault at a time; each is counted by kind.
 */
import type { FaultKind } from './config.ts';
import type { PgCluster } from './pg_cluster.ts';
import { type Rng, sleep } from './prng.ts';
import type { OncepayServer } from './servers.ts';

/**
 * Self-kill rules, from the commands and steps the crash tests use (test/e2e/idempotency,
 * invoices_exactly_once, subscriptions_exactly_once): every committed phase and every
 * processor call of the commands the workers send, plus the billing run's renewal.
 */
export const KILL_RULES = [
  'payment_intents.create:create', 'payment_intents.create:authorize', 'payment_intents.create:record',
  'payment_intents.confirm:begin', 'payment_intents.confirm:authorize', 'payment_intents.confirm:record',
  'payment_intents.capture:begin', 'payment_intents.capture:capture', 'payment_intents.capture:record',
  'payment_intents.cancel:begin', 'payment_intents.cancel:void', 'payment_intents.cancel:record',
  'refunds.create:begin', 'refunds.create:refund', 'refunds.create:record',
  'invoices.finalize:finalize', 'invoices.void:void',
  'invoices.pay:begin', 'invoices.pay:authorize', 'invoices.pay:record',
  'subscriptions.create:create', 'subscriptions.create:pay', 'subscriptions.create:authorize', 'subscriptions.create:record',
  'test_clocks.advance:begin', 'billing.renew:renewed',
].map((r) => `kill:${r}`);

export interface FaultCounts {
  kill: number;
  self_kill: number;
  /** Server starts armed with a self-kill rule. */
  armed: number;
  pg_restart_fast: number;
  pg_restart_immediate: number;
  pg_restart_failed: number;
  pause: number;
  term: number;
  /** Self-kills by rule. */
  selfKillsByRule: Record<string, number>;
}

export const newFaultCounts = (): FaultCounts => ({
  kill: 0, self_kill: 0, armed: 0, pg_restart_fast: 0, pg_restart_immediate: 0, pg_restart_failed: 0, pause: 0, term: 0, selfKillsByRule: {},
});

export interface FaultLoopOptions {
  kinds: FaultKind[];
  intervalMs: number;
  lockTimeoutMs: number;
  pauseExtraMs: number;
  /** ONCEPAY_WEBHOOK_LEASE: a quarter of the pauses outlast it, so another process takes the deliveries over. */
  webhookLeaseMs: number;
  /** Probability that a server started after a fault (or at the beginning) is armed with a self-kill rule. */
  armProbability: number;
  /** The same after a self-kill, lower so that a chain of self-kills cannot keep a server down. */
  rearmProbability: number;
}

export class FaultLoop {
  private stopping = false;
  private wake?: () => void;
  private loop?: Promise<void>;
  /** False once quiescing: servers start unarmed. */
  arming = true;

  constructor(
    private readonly servers: OncepayServer[],
    private readonly pg: PgCluster,
    private readonly rng: Rng,
    private readonly opts: FaultLoopOptions,
    readonly counts: FaultCounts,
    private readonly log: (m: string) => void,
  ) {}

  /** The rule for a server's next start (the supervisor asks). */
  chooseRule(after: 'fault' | 'self_kill' | 'crash' | 'start'): string | undefined {
    const p = after === 'self_kill' ? this.opts.rearmProbability : this.opts.armProbability;
    if (!this.arming || !this.opts.kinds.includes('kill') || !this.rng.chance(p)) return undefined;
    this.counts.armed++;
    return this.rng.pick(KILL_RULES);
  }

  onSelfKill(server: OncepayServer, rule: string): void {
    this.counts.self_kill++;
    this.counts.selfKillsByRule[rule] = (this.counts.selfKillsByRule[rule] ?? 0) + 1;
    this.log(`fault: server ${server.name} killed itself (${rule})`);
  }

  start(): void {
    if (this.opts.kinds.length === 0) return;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const wait = Math.floor(this.opts.intervalMs * (0.5 + this.rng.next()));
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, wait); });
      if (this.stopping) break;
      const kind = this.rng.pick(this.opts.kinds);
      try {
        await this.inject(kind);
      } catch (err) {
        this.log(`fault ${kind} failed: ${(err as Error).message.split('\n')[0]}`);
        if (kind === 'pg_restart') this.counts.pg_restart_failed++;
      }
    }
  }

  private upServer(): OncepayServer | undefined {
    const up = this.servers.filter((s) => s.state === 'up');
    return up.length ? this.rng.pick(up) : undefined;
  }

  private async inject(kind: FaultKind): Promise<void> {
    switch (kind) {
      case 'kill': {
        const s = this.upServer();
        if (!s) return;
        this.log(`fault: kill -9 server ${s.name} (pid ${s.pid})`);
        this.counts.kill++;
        await s.kill9();
        return;
      }
      case 'term': {
        const s = this.upServer();
        if (!s) return;
        this.log(`fault: SIGTERM server ${s.name} (pid ${s.pid})`);
        this.counts.term++;
        await s.term();
        return;
      }
      case 'pause': {
        const s = this.upServer();
        if (!s || !s.pause()) return;
        const ms = this.rng.chance(0.25)
          ? this.opts.webhookLeaseMs + 1000 + Math.floor(this.rng.next() * 2000)
          : this.opts.lockTimeoutMs + 500 + Math.floor(this.rng.next() * this.opts.pauseExtraMs);
        this.log(`fault: SIGSTOP server ${s.name} for ${ms} ms`);
        this.counts.pause++;
        await sleep(ms);
        s.resume();
        return;
      }
      case 'pg_restart': {
        const mode = this.rng.chance(0.3) ? 'immediate' : 'fast';
        this.log(`fault: pg_ctl restart -m ${mode}`);
        if (mode === 'fast') this.counts.pg_restart_fast++;
        else this.counts.pg_restart_immediate++;
        const o = await this.pg.restart(mode);
        this.log(`fault: PostgreSQL back after ${o.endedAt! - o.startedAt} ms`);
        return;
      }
    }
  }

  /** Stops injecting; resolves once the fault in progress (if any) has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.arming = false;
    this.wake?.();
    await this.loop;
  }
}

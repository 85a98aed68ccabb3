/**
 * The campaign's settings: flags (`--duration 60`, `--duration=60`), then environment variables
 * (`CAMPAIGN_DURATION=60`), then defaults. `--help` prints the table below.
 */
export interface CampaignConfig {
  /** Seconds of load under faults (quiescing and checking come after). */
  duration: number;
  workers: number;
  /** Mean seconds between two faults (each interval is drawn from 0.5x..1.5x of it). */
  faultInterval: number;
  /** Which faults the loop may inject. */
  faults: FaultKind[];
  seed: number | undefined;
  summary: string | undefined;
  /** Client-side proxies (in front of each server), per request. */
  drop: number;
  reset: number;
  latency: number;
  latencyMaxMs: number;
  /** The proxy in front of the webhook receiver, per delivery. */
  receiverDrop: number;
  receiverReset: number;
  /** Probability that the receiver's handler fails (5xx) so Oncepay has to deliver again. */
  receiverFail: number;
  /** A SIGSTOP lasts the lock timeout plus 0.5..pauseExtra seconds. */
  pauseExtra: number;
  lockTimeout: string;
  /** Seconds a worker's request may take (retries included) before the action counts as hung. */
  actionDeadline: number;
  /** Client timeout per HTTP attempt, milliseconds. */
  requestTimeoutMs: number;
  /** Seconds to wait, after the load stops, for workers, the completer and the dispatcher. */
  quiesceTimeout: number;
  /** Keep the run directory (journal, server logs, PostgreSQL log) even when the run passes. */
  keep: boolean;
  verbose: boolean;
  /** Plant one violation of every invariant after quiescing: passes only if each is caught. */
  selfTest: boolean;
}

export const FAULT_KINDS = ['kill', 'pg_restart', 'pause', 'term'] as const;
export type FaultKind = typeof FAULT_KINDS[number];

interface Option {
  name: string;
  kind: 'number' | 'string' | 'boolean';
  default: unknown;
  help: string;
}

const OPTIONS: Option[] = [
  { name: 'duration', kind: 'number', default: 180, help: 'seconds of load under faults' },
  { name: 'workers', kind: 'number', default: 12, help: 'concurrent client workers' },
  { name: 'fault-interval', kind: 'number', default: 8, help: 'mean seconds between faults' },
  { name: 'faults', kind: 'string', default: FAULT_KINDS.join(','), help: `faults to inject: any of ${FAULT_KINDS.join(',')}, or none` },
  { name: 'seed', kind: 'number', default: undefined, help: 'PRNG seed (printed; random when absent)' },
  { name: 'summary', kind: 'string', default: undefined, help: 'write the summary as JSON to this file' },
  { name: 'drop', kind: 'number', default: 0.05, help: 'client proxies: probability of dropping a response after the server answered' },
  { name: 'reset', kind: 'number', default: 0.03, help: 'client proxies: probability of resetting a request before forwarding it' },
  { name: 'latency', kind: 'number', default: 0.2, help: 'client proxies: probability of delaying a request' },
  { name: 'latency-max-ms', kind: 'number', default: 300, help: 'client proxies: the longest delay' },
  { name: 'receiver-drop', kind: 'number', default: 0.03, help: 'receiver proxy: probability of dropping the receiver\'s answer' },
  { name: 'receiver-reset', kind: 'number', default: 0.02, help: 'receiver proxy: probability of resetting a delivery before the receiver sees it' },
  { name: 'receiver-fail', kind: 'number', default: 0.03, help: 'probability that the receiver\'s handler fails (answer 500)' },
  { name: 'pause-extra', kind: 'number', default: 3, help: 'a SIGSTOP lasts the lock timeout plus up to this many seconds' },
  { name: 'lock-timeout', kind: 'string', default: '2s', help: 'ONCEPAY_IDEMPOTENCY_LOCK_TIMEOUT of the servers' },
  { name: 'action-deadline', kind: 'number', default: 120, help: 'seconds one request (with its retries) may take before its action counts as hung' },
  { name: 'request-timeout-ms', kind: 'number', default: 10000, help: 'client timeout of one HTTP attempt' },
  { name: 'quiesce-timeout', kind: 'number', default: 150, help: 'seconds to wait for workers, completer and dispatcher to drain' },
  { name: 'keep', kind: 'boolean', default: false, help: 'keep the run directory even when the run passes' },
  { name: 'verbose', kind: 'boolean', default: false, help: 'print every fault and retry as it happens' },
  { name: 'self-test', kind: 'boolean', default: false, help: 'plant a violation of every invariant after quiescing; passes only if every check catches its own' },
];

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const envName = (s: string) => `CAMPAIGN_${s.replace(/-/g, '_').toUpperCase()}`;

export function usage(): string {
  const rows = OPTIONS.map((o) => `  --${o.name}${o.kind === 'boolean' ? '' : ' <v>'}`.padEnd(28) + `${o.help}${o.default === undefined ? '' : ` (default ${o.default})`}  [${envName(o.name)}]`);
  return `npm run campaign -- [options]\n\n${rows.join('\n')}\n`;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): CampaignConfig | 'help' {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)} (see --help)`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const opt = OPTIONS.find((o) => o.name === name || (o.kind === 'boolean' && `no-${o.name}` === name));
    if (!opt) throw new Error(`unknown option --${name} (see --help)`);
    if (opt.kind === 'boolean') {
      given.set(opt.name, eq > 0 ? arg.slice(eq + 1) : name.startsWith('no-') ? 'false' : 'true');
    } else {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      given.set(opt.name, value);
    }
  }
  const out: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const raw = given.get(o.name) ?? env[envName(o.name)];
    let value: unknown = o.default;
    if (raw !== undefined && raw !== '') {
      if (o.kind === 'number') {
        value = Number(raw);
        if (!Number.isFinite(value as number)) throw new Error(`--${o.name}: not a number: ${raw}`);
      } else if (o.kind === 'boolean') value = !['0', 'false', 'no', ''].includes(raw.toLowerCase());
      else value = raw;
    }
    out[camel(o.name)] = value;
  }
  const faults = String(out.faults).split(',').map((s) => s.trim()).filter((s) => s && s !== 'none');
  for (const f of faults) if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new Error(`--faults: unknown fault ${f} (${FAULT_KINDS.join(', ')})`);
  out.faults = faults;
  for (const p of ['drop', 'reset', 'latency', 'receiverDrop', 'receiverReset', 'receiverFail']) {
    const v = out[p] as number;
    if (v < 0 || v > 1) throw new Error(`${p} is a probability: ${v}`);
  }
  if ((out.workers as number) < 1) throw new Error('--workers must be at least 1');
  return out as unknown as CampaignConfig;
}

/** `2s`, `500ms`, `1m` -> milliseconds (the servers' own duration syntax, for the few we need). */
export function durationMs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`bad duration ${s}`);
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000);
}

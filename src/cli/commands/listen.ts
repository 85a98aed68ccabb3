/**
 * `oncepay listen --forward-to URL`: like `stripe listen`. Polls GET /v1/events every 500 ms for
 * events created after it started (a sliding window, all pages, oldest first: see
 * poll_window.ts for why not an `ending_before` cursor) and POSTs each one to the URL, signed
 * with a local `whsec_` secret exactly as Oncepay's webhook dispatcher signs deliveries
 * (src/events/signing.ts), so the receiver's verification code can be tested against it. No retries: a failed delivery is reported and listening goes on.
 */
import { signedHeaders } from '../../events/signing.ts';
import { POLL_USER_AGENT, type ApiClient } from '../api_client.ts';
import { CliError, describeNetworkError } from '../errors.ts';
import { listenSecret } from '../listen_secret.ts';
import { formatTime, note, print } from '../output.ts';
import { fetchWindow, LOOKBACK_S, PollWindow } from '../poll_window.ts';
import { follow } from '../follow.ts';

export interface ListenOptions {
  forwardTo?: string;
  events?: string[];
  printSecret?: boolean;
  /** Per delivery. Default 10 s. */
  timeoutMs?: number;
  intervalMs?: number;
}

interface Event { id: string; type: string; created: number; [field: string]: unknown }

/** `localhost:3000/hook` as `stripe listen` takes it, made a full URL. */
export function parseForwardTo(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`--forward-to: expected a URL such as http://localhost:3000/webhooks, got "${value}"`, 2);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--forward-to: expected an http:// or https:// URL, got "${value}"`, 2);
  return url.toString();
}

/** `--events a,b.*`: the list filter (`type` for one, `types[]` for several; `*` alone is everything). */
export function eventFilter(types: string[] | undefined): Record<string, unknown> {
  const list = (types ?? []).map((t) => t.trim()).filter(Boolean);
  if (list.length === 0 || list.includes('*')) return {};
  for (const t of list) {
    if (!/^[a-z_]+(\.([a-z_]+|\*))*$/.test(t)) throw new CliError(`--events: "${t}" is not an event type (e.g. payment_intent.succeeded or charge.*)`, 2);
  }
  if (list.length > 20) throw new CliError('--events: at most 20 types', 2);
  return list.length === 1 ? { type: list[0] } : { types: list };
}


/** POSTs one event, signed; resolves with the status line to print (never throws). */
export async function forward(url: string, secret: string, event: Event, timeoutMs: number): Promise<{ ok: boolean; line: string }> {
  const body = JSON.stringify(event);
  try {
    const res = await fetch(url, { method: 'POST', headers: signedHeaders([secret], event.id, body), body, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer().catch(() => undefined);
    return { ok: res.ok, line: `<-- [${res.status}] POST ${url} [${event.id}]` };
  } catch (err) {
    return { ok: false, line: `<-- [ERROR] POST ${url} [${event.id}]: ${describeNetworkError(err)}` };
  }
}

export async function listen(client: ApiClient, opts: ListenOptions, signal?: AbortSignal): Promise<void> {
  const { secret, file } = listenSecret(client.apiBase, client.apiKey);
  if (opts.printSecret) {
    print(secret);
    return;
  }
  if (!opts.forwardTo) throw new CliError('--forward-to <url> is required (or --print-secret)', 2);
  const url = parseForwardTo(opts.forwardTo);
  const filter = eventFilter(opts.events);
  const get = (q: Record<string, unknown>) => client.get<{ data: Event[]; has_more: boolean }>('/v1/events', { ...filter, ...q }, { userAgent: POLL_USER_AGENT });

  // Events that exist now are not forwarded: read them (this also checks the address and the key).
  const window = new PollWindow<Event>();
  const newest = (await get({ limit: 1 })).data[0];
  if (newest) window.ignore(await fetchWindow(get, newest.created - LOOKBACK_S));
  const what = 'type' in filter ? String(filter.type) : 'types' in filter ? (filter.types as string[]).join(', ') : 'all events';
  note(`Forwarding ${what} from ${client.apiBase} to ${url} (secret kept in ${file})`);
  print(`Ready! Your webhook signing secret is ${secret} (^C to quit)`);

  await follow(client.apiBase, { intervalMs: opts.intervalMs ?? 500, signal }, async (online) => {
    const batch = window.take(await fetchWindow(get, window.since));
    online();
    for (const event of batch) {
      print(`${formatTime(Math.floor(Date.now() / 1000))}  --> ${event.type} [${event.id}]`);
      const { line } = await forward(url, secret, event, opts.timeoutMs ?? 10_000);
      print(`${formatTime(Math.floor(Date.now() / 1000))}  ${line}`);
    }
  });
}

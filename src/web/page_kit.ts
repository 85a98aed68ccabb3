/**
 * What every hosted page shares: its dependencies, the security headers, CSRF protection and
 * the way a page is sent.
 *
 * CSRF: a double-submit token. The first page a browser sees sets a random `oncepay_csrf` cookie
 * (HttpOnly, SameSite=Lax, so another site's form never carries it); every form repeats it in a
 * hidden field, and a POST whose field and cookie differ, or whose Origin is another site's, is
 * refused before anything runs. Nothing is kept on the server, so the token holds across server
 * processes and restarts (a page submitted again after a crash still passes).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../store/db.ts';
import type { CommandAnswer, CommandCall, CommandRunner } from '../checkout/hosted_deps.ts';
import { ApiError } from '../errors.ts';
import { randomId } from '../ids.ts';
import { currencyExponent } from '../schema/money.ts';
import { html, layout, type Html } from './html.ts';

export interface WebDeps {
  db: Db;
  /** Runs the API's own commands through the idempotency engine. */
  commands: CommandRunner;
  /** Where browsers reach this server. */
  publicUrl(): string;
}

export const CSRF_COOKIE = 'oncepay_csrf';
const CSRF_PATTERN = /^[A-Za-z0-9]{32}$/;

/**
 * The headers of every page: a CSP that allows only this server's stylesheet and forms posted to
 * this server (and the redirect targets a form may end at), no framing, no referrer to other sites (the URL is
 * a capability), never cached (a page shows a payment's state), no MIME sniffing.
 */
export function pageHeaders(reply: FastifyReply, formTargets: string[] = []): void {
  const origins = [...new Set(formTargets.map(originOf).filter((o): o is string => o !== null))];
  reply
    .header('Content-Security-Policy', `default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'${origins.map((o) => ` ${o}`).join('')}; frame-ancestors 'none'; base-uri 'none'`)
    .header('X-Frame-Options', 'DENY')
    .header('Referrer-Policy', 'same-origin')
    .header('Cache-Control', 'no-store')
    .header('X-Content-Type-Options', 'nosniff')
    .header('Cross-Origin-Opener-Policy', 'same-origin');
}

function originOf(url: string | null | undefined): string | null {
  if (!url) return null;
  try { return new URL(url).origin; } catch { return null; }
}

/** The browser's CSRF token (set as a cookie when it has none yet), to put in the page's forms. */
export function csrfToken(req: FastifyRequest, reply: FastifyReply): string {
  const have = req.cookies[CSRF_COOKIE];
  if (have && CSRF_PATTERN.test(have)) return have;
  const token = randomId(32);
  reply.setCookie(CSRF_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure: req.protocol === 'https' });
  return token;
}

/** True when a form's POST came from one of this server's own pages. */
export function csrfOk(req: FastifyRequest, field: unknown): boolean {
  const cookie = req.cookies[CSRF_COOKIE];
  if (!cookie || !CSRF_PATTERN.test(cookie) || field !== cookie) return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  return origin !== 'null' && host !== undefined && new URL(origin).host === host;
}

/** A page: headers, HTML, status. */
export function sendPage(reply: FastifyReply, status: number, page: string, formTargets: string[] = []): FastifyReply {
  pageHeaders(reply, formTargets);
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}

/** The answer to every POST of a page (post/redirect/get): 303 to where the browser goes next, never cached. */
export const seeOther = (reply: FastifyReply, url: string): FastifyReply => reply.header('Cache-Control', 'no-store').redirect(url, 303);

/** A page that only says something: not found, expired, refused. */
export function messagePage(reply: FastifyReply, status: number, title: string, text: string, link?: { href: string; label: string }): FastifyReply {
  return sendPage(reply, status, layout(title, html`<h1>${title}</h1><p>${text}</p>${link ? html`<a class="button secondary" rel="noreferrer" href="${link.href}">${link.label}</a>` : ''}`));
}

/** A form body's field as a trimmed string ('' when missing or not a string). */
export const field = (body: unknown, name: string): string => {
  const v = (body as Record<string, unknown> | null | undefined)?.[name];
  return typeof v === 'string' ? v.trim() : '';
};

/** An amount in minor units as people read it: $30.00, ¥500. (One formatter per currency, made once.) */
const formatters = new Map<string, Intl.NumberFormat | null>();
export function money(amount: number, currency: string): string {
  const exp = currencyExponent(currency) ?? 2;
  let f = formatters.get(currency);
  if (f === undefined) {
    try {
      f = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase(), minimumFractionDigits: exp, maximumFractionDigits: exp });
    } catch {
      f = null;
    }
    formatters.set(currency, f);
  }
  return f ? f.format(amount / 10 ** exp) : `${(amount / 10 ** exp).toFixed(exp)} ${currency.toUpperCase()}`;
}

/** The hidden fields every form carries. */
export const hidden = (fields: Record<string, string | number>): Html =>
  html`${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${String(v)}">`)}`;

/** Waits (bounded) until `busy` says no more: a submission answered while another one of the same page is still running. */
export async function settle(busy: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && await busy()) await new Promise((r) => setTimeout(r, 50));
}

/** How long a submission waits for a key in use: longer than the engine's default lock timeout (10 s). */
const RETRY_FOR_MS = 20_000;

/**
 * Runs one of the API's commands through the engine for a page. A key in use (this page's other
 * request still running, or a process that died holding it, until its lock goes stale and the
 * engine takes the run over) and an object busy with another request are asked again until they
 * answer, as Stripe's clients retry a 409; the engine's other refusals (other parameters under a
 * used key: another tab got there first) are answers too, as `{ error }` bodies.
 */
export async function runCommand(deps: WebDeps, call: CommandCall): Promise<CommandAnswer> {
  const deadline = Date.now() + RETRY_FOR_MS;
  for (;;) {
    try {
      return await deps.commands.execute(call);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.headers['Stripe-Should-Retry'] !== 'true' || Date.now() > deadline) return { status: err.status, body: { error: err.body } };
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

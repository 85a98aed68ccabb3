/**
 * A real Chromium for the hosted pages' tests, driven by playwright-core: Debian's `chromium`
 * (installed by .ci/run) or the one ONCEPAY_CHROMIUM names. A machine without it fails these
 * tests, loudly, rather than skipping them; ONCEPAY_BROWSER_TESTS=0 turns them off on purpose
 * (CI runs them on two of its three runs of the suite).
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const browserTestsOff = process.env.ONCEPAY_BROWSER_TESTS === '0';

const CANDIDATES = [process.env.ONCEPAY_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p);

export function chromiumPath(): string {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`No Chromium found (looked at ${CANDIDATES.join(', ')}): install Debian's chromium (apt-get install chromium), set ONCEPAY_CHROMIUM, or set ONCEPAY_BROWSER_TESTS=0 to skip the browser tests.`);
  return found;
}

/**
 * One browser for the file (launched in `before`, closed in `after`); `page()` opens a fresh
 * context (its own cookies, like a new customer) and a page in it.
 */
export function useBrowser(): { page(): Promise<Page>; context(): Promise<BrowserContext> } {
  let browser: Browser | undefined;
  before(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });
  after(async () => { await browser?.close(); });
  const context = async () => {
    if (!browser) throw new Error('the browser is not launched yet (call useBrowser() at the top of the file)');
    return browser.newContext({ javaScriptEnabled: false });
  };
  return { context, page: async () => (await context()).newPage() };
}

/** Fills the hosted card form as a person would. */
export async function fillCard(page: Page, card: { number: string; expiry?: string; cvc?: string; name?: string; email?: string }): Promise<void> {
  if (card.email !== undefined) await page.getByLabel('Email').fill(card.email);
  await page.getByLabel('Card number').fill(card.number);
  await page.getByLabel('Expiration').fill(card.expiry ?? `12 / ${String((new Date().getUTCFullYear() + 2) % 100).padStart(2, '0')}`);
  await page.getByLabel('CVC').fill(card.cvc ?? '123');
  await page.getByLabel('Cardholder name').fill(card.name ?? 'Jenny Rosen');
}

/**
 * The merchant's own site (another origin than Oncepay's), where success_url, cancel_url and
 * return_url point: every page is `<h1>` of the title `titleOf(path)` gives. Started in `before`,
 * closed in `after`; `url()` is its origin once started.
 */
export function useShop(titleOf: (path: string) => string): { url(): string } {
  let shop: http.Server | undefined;
  let url = '';
  before(async () => {
    const server = http.createServer((req, res) => {
      const title = titleOf(req.url ?? '/');
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>${title}</title><h1>${title}</h1>`);
    });
    shop = server;
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    shop?.closeAllConnections();
    await new Promise<void>((ok) => (shop ? shop.close(() => ok()) : ok()));
  });
  return { url: () => url };
}

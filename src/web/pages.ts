/**
 * The hosted pages, in their own scope of the HTTP app: cookies for CSRF, the shared stylesheet,
 * an HTML answer for any failure (a page never answers JSON), and each page's routes.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import { STYLESHEET_PATH } from './html.ts';
import { messagePage, type WebDeps } from './page_kit.ts';
import { checkoutPage } from './checkout_page.ts';
import { invoicePage } from './invoice_page.ts';
import { portalPage } from './portal_page.ts';

const STYLESHEET = readFileSync(new URL('./assets/oncepay.css', import.meta.url), 'utf8');

export function webPages(deps: WebDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(cookie);
    app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) req.log.error({ err }, 'hosted page failed');
      return messagePage(reply, status, status === 500 ? 'Something went wrong' : 'This request could not be read',
        status === 500 ? 'Reload the page to see where your checkout stands.' : 'Go back and submit the form again.');
    });
    app.get(STYLESHEET_PATH, (_req, reply) => reply.header('Cache-Control', 'public, max-age=3600').type('text/css; charset=utf-8').send(STYLESHEET));
    await checkoutPage(app, deps);
    await invoicePage(app, deps);
    await portalPage(app, deps);
  };
}

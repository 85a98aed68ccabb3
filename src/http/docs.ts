/**
 * The OpenAPI document at GET /openapi.json and interactive documentation (Swagger UI) at
 * GET /docs, under Oncepay's name. Like /healthz they sit outside /v1 and need no key: the API's
 * key check (src/http/auth.ts) is a hook of the API's own scope (src/http/app.ts) and never
 * applies to them.
 *
 * The document's `servers` is the address the request reached (its Host header), so "Try it
 * out" and generated clients aim at this server whatever port or host it listens on; a missing
 * or malformed Host falls back to the listening address.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

/** Oncepay's mark: the page's logo and favicon (no Fastify or Swagger branding). */
const LOGO = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="180" height="40" viewBox="0 0 180 40">' +
  '<circle cx="20" cy="20" r="15" fill="none" stroke="#ffffff" stroke-width="5"/><circle cx="20" cy="20" r="5" fill="#62d2a2"/>' +
  '<text x="44" y="28" font-family="Helvetica, Arial, sans-serif" font-size="24" font-weight="700" fill="#ffffff">Oncepay</text></svg>',
);
const ICON = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 40 40">' +
  '<circle cx="20" cy="20" r="15" fill="none" stroke="#1b1b1b" stroke-width="5"/><circle cx="20" cy="20" r="5" fill="#2f9e6e"/></svg>',
);

const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** `http://<the address this request reached>` */
export function serverUrl(app: FastifyInstance, req: FastifyRequest): string {
  const host = req.headers.host;
  if (host && HOST.test(host)) return `${req.protocol}://${host}`;
  const addr = app.server.address() as AddressInfo | null;
  if (!addr) return 'http://127.0.0.1';
  return `${req.protocol}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
}

export async function registerDocs(app: FastifyInstance, document: object): Promise<void> {
  // The document for each address, serialized once (a server is reached under a handful of names).
  const bodies = new Map<string, string>();
  const documentFor = (url: string): string => {
    let body = bodies.get(url);
    if (body === undefined) {
      body = JSON.stringify({ ...document, servers: [{ url }] });
      if (bodies.size >= 16) bodies.delete(bodies.keys().next().value!);
      bodies.set(url, body);
    }
    return body;
  };
  app.get('/openapi.json', async (req, reply) => reply.type('application/json; charset=utf-8').send(documentFor(serverUrl(app, req))));
  // Static mode: the plugin serves the document it is given and never looks at the routes. (Its
  // option type names OpenAPI 2 and 3.0 documents only; a 3.1 document is served just the same.)
  await app.register(swagger, { mode: 'static', specification: { document: structuredClone(document) as never } });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, docExpansion: 'list', defaultModelsExpandDepth: 0, tryItOutEnabled: false },
    theme: {
      title: 'Oncepay API reference',
      favicon: [{ filename: 'oncepay.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: ICON }],
    },
    logo: { type: 'image/svg+xml', content: LOGO, href: '/docs', target: '_self' },
    transformSpecificationClone: false,
    transformSpecification: (_spec, req, reply) => {
      reply.type('application/json; charset=utf-8');
      return documentFor(serverUrl(app, req)) as never;
    },
  });
}

/**
 * The OpenAPI document at GET /openapi.json and interactive documentation (Swagger UI) at
 * GET /docs. Like /healthz they sit outside /v1 and need no key: the API's key check
 * (src/http/auth.ts) is a hook of the API's own scope (src/http/app.ts) and never applies to them.
 */
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

export async function registerDocs(app: FastifyInstance, document: object): Promise<void> {
  const body = JSON.stringify(document);
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json; charset=utf-8').send(body));
  // Static mode: the plugin serves the document it is given and never looks at the routes. (Its
  // option type names OpenAPI 2 and 3.0 documents only; a 3.1 document is served just the same.)
  await app.register(swagger, { mode: 'static', specification: { document: structuredClone(document) as never } });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, docExpansion: 'list', defaultModelsExpandDepth: 0, tryItOutEnabled: false },
  });
}

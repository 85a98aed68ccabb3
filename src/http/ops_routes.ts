/** Operations endpoints, outside /v1 and without a key: liveness, readiness and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../ops/metrics.ts';

export interface Readiness {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export async function registerOpsRoutes(app: FastifyInstance, deps: { metrics: Metrics; readiness: () => Promise<Readiness> }): Promise<void> {
  // Liveness: the process answers. Nothing else is checked, so a slow database never gets it restarted.
  app.get('/healthz', async (_req, reply) => reply.type('application/json').send(JSON.stringify({ status: 'ok' })));

  app.get('/readyz', async (_req, reply) => {
    const r = await deps.readiness();
    return reply.code(r.ready ? 200 : 503).type('application/json')
      .send(JSON.stringify({ status: r.ready ? 'ready' : 'unavailable', checks: r.checks }));
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}

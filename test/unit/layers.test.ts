/**
 * The layer rules of .dependency-cruiser.cjs (docs/DESIGN.md, "Layers") hold for src/, and the
 * rules themselves catch each kind of violation in a small fixture tree (test/fixtures/layers/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cruise, type IForbiddenRuleType, type IViolation } from 'dependency-cruiser';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const rules = createRequire(import.meta.url)('../../.dependency-cruiser.cjs') as { forbidden: IForbiddenRuleType[] };

/** Every violation under `baseDir`/src, as "rule: from -> to" lines (a circle lists its path), and how many modules were read. */
async function cruiseSrc(baseDir: string): Promise<{ violations: string[]; modules: number }> {
  const { output } = await cruise(['src'], {
    baseDir, validate: true, ruleSet: { forbidden: rules.forbidden }, tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
  });
  if (typeof output === 'string') throw new Error('dependency-cruiser answered text, not a result');
  return {
    modules: output.summary.totalCruised,
    violations: output.summary.violations.map((v: IViolation) =>
      `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (circle: ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`),
  };
}

test('src/ imports run one way through the layers, with no import circle', async () => {
  const { violations, modules } = await cruiseSrc(ROOT);
  assert.ok(modules > 100, `only ${modules} modules were read`);
  assert.deepEqual(violations, [], 'each line names a forbidden import: see docs/DESIGN.md, "Layers"');
});

test('the rules catch a domain file importing the API layer, a circle, a leaf importing a layer, and Fastify in the domain', async () => {
  const { violations: found } = await cruiseSrc(fileURLToPath(new URL('../fixtures/layers', import.meta.url)));
  const rule = (name: string) => found.filter((v) => v.startsWith(`${name}:`));
  assert.deepEqual(rule('payments-imports-a-higher-layer'), ['payments-imports-a-higher-layer: src/payments/pays.ts -> src/api/route.ts']);
  assert.ok(rule('no-circular').some((v) => v.includes('src/store/a.ts') && v.includes('src/store/b.ts')), found.join('\n'));
  assert.deepEqual(rule('leaf-imports-a-layer'), ['leaf-imports-a-layer: src/schema/leaf.ts -> src/store/a.ts']);
  assert.equal(rule('domain-imports-the-http-framework').length, 1, found.join('\n'));
});

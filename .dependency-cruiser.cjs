/**
 * The layer rules of src/ (docs/DESIGN.md, "Layers"), checked by dependency-cruiser on every
 * `npm test` (test/unit/layers.test.ts) and by `npx depcruise src` by hand.
 *
 * Imports run one way, down this list; a file may import its own layer and any layer below it,
 * never one above. Type-only imports count (tsPreCompilationDeps): a type is a dependency too.
 */
const LAYERS = [
  // Entry points: the `oncepay` command, and oncepay/testing (startOncepay for test suites).
  ['cli', '^src/(cli/|testing(_child)?\\.ts$)'],
  ['server', '^src/server\\.ts$'],
  ['http', '^src/http/'],
  // The hosted pages (Checkout, the billing portal, the invoice page): HTML beside the JSON API,
  // running the same commands.
  ['web', '^src/web/'],
  ['api', '^src/api/'],
  // Sessions that compose the API's own commands: Checkout Sessions and billing portal sessions.
  ['hosted', '^src/(checkout|portal)/'],
  ['billing', '^src/billing/'],
  ['payments', '^src/payments/'],
  ['events', '^src/events/'],
  ['idempotency', '^src/idempotency/'],
  // Services over the store that the layers above share: keys, request logs, metrics, the processor.
  ['services', '^src/(accounts|logs|ops|processor)/'],
  ['store', '^src/store/'],
];

/** Leaves every layer may import; they import only each other (and packages). */
const LEAVES = '^src/(schema/|errors\\.ts$|ids\\.ts$|config\\.ts$|faults\\.ts$)';

const above = (i) => LAYERS.slice(0, i).map(([, path]) => `(${path})`).join('|');

/** Folders whose code must not know the HTTP framework (the domain and everything under it). */
const NO_HTTP_FRAMEWORK = '^src/(checkout|portal|billing|payments|events|idempotency|accounts|logs|ops|processor|store|schema)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle in src/: split the module or move the shared piece down a layer.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...LAYERS.slice(1).map(([name, path], i) => ({
      name: `${name}-imports-a-higher-layer`,
      severity: 'error',
      comment: `${name} may import only its own layer, the layers below it and the leaves (see docs/DESIGN.md, "Layers").`,
      from: { path },
      to: { path: above(i + 1) },
    })),
    {
      name: 'leaf-imports-a-layer',
      severity: 'error',
      comment: 'schema/, errors, ids, config and faults are leaves: they import only each other.',
      from: { path: LEAVES },
      to: { path: '^src/', pathNot: LEAVES },
    },
    {
      name: 'receiver-is-standalone',
      severity: 'error',
      comment: 'src/receiver/ is the helper integrators embed in their own service: it imports nothing else of Oncepay.',
      from: { path: '^src/receiver/' },
      to: { path: '^src/', pathNot: '^src/receiver/' },
    },
    {
      name: 'domain-imports-the-http-framework',
      severity: 'error',
      comment: 'The domain never knows Fastify: HTTP concerns live in src/http/.',
      from: { path: NO_HTTP_FRAMEWORK },
      to: { path: '(^|/)node_modules/(fastify|@fastify/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(node_modules|test|bench|examples|scripts)/' },
  },
};

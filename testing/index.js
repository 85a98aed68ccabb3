// `import { startOncepay } from 'oncepay/testing'` (see src/testing.ts and the README, "Use it in
// your test suite"). Loads the TypeScript through tsx, scoped to this import: the caller's own
// module loading is left as it is, and the caller needs no tsx of its own.
import { tsImport } from 'tsx/esm/api';

const testing = await tsImport('../src/testing.ts', import.meta.url);

export const startOncepay = testing.startOncepay;

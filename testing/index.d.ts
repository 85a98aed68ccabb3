// Types of `oncepay/testing` (the implementation and its documentation: src/testing.ts).
export { startOncepay } from '../src/testing.ts';
export type { StartOncepayOptions, RunningOncepay, OncepayAccount } from '../src/testing.ts';

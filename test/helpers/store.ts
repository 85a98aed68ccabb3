/**
 * Which store the tests run on: PostgreSQL when DATABASE_URL is set, else the embedded engine
 * ONCEPAY_EMBEDDED names (a real PostgreSQL from npm, the default, or PGlite).
 */
export const usingPostgres = (): boolean => Boolean(process.env.DATABASE_URL);

/** The embedded engine of this run (what servers without DATABASE_URL use). */
export const embeddedEngine = (): 'postgres' | 'pglite' => (process.env.ONCEPAY_EMBEDDED === 'pglite' ? 'pglite' : 'postgres');

/** Whether the store lets other processes open the database while a server runs (not PGlite). */
export const sharedStore = (): boolean => usingPostgres() || embeddedEngine() === 'postgres';

/** The store's name, for test titles. */
export const STORE = usingPostgres() ? 'PostgreSQL' : embeddedEngine() === 'pglite' ? 'PGlite' : 'embedded PostgreSQL';

/** The run's embedded engine (ONCEPAY_EMBEDDED), passed on to the processes a test spawns with a clean environment. */
export const embeddedEnv = (): Record<string, string> => (process.env.ONCEPAY_EMBEDDED ? { ONCEPAY_EMBEDDED: process.env.ONCEPAY_EMBEDDED } : {});

/** The skip of a test that runs two server processes on one database: only DATABASE_URL has one to share. */
export const SHARED_DATABASE_ONLY: false | string = usingPostgres() ? false
  : 'needs DATABASE_URL: two server processes share one database there, while an embedded database belongs to the server that opened it';

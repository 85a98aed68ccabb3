/** Which store the tests run on: PostgreSQL when DATABASE_URL is set, else embedded PGlite. */
export const usingPostgres = (): boolean => Boolean(process.env.DATABASE_URL);

/** The store's name, for test titles. */
export const STORE = usingPostgres() ? 'PostgreSQL' : 'PGlite';

/** `oncepay migrate`: apply the pending migrations, showing each as it runs. */
import type { Db, Tx } from '../../store/db.ts';
import { CliError } from '../errors.ts';
import { openLocalDatabase } from '../local_db.ts';
import { print } from '../output.ts';

interface Migration { version: number; name: string; sql: string }

/**
 * The database as `migrate()` sees it, reporting each migration as it starts (its SQL is run)
 * and ends (its schema_migrations row is written). The real migrate() does the work: this only
 * watches, so the CLI cannot drift from what the server runs at start.
 */
export function watchMigrations(db: Db, migrations: Migration[], on: { start(m: Migration): void; applied(m: Migration): void }): Db {
  const watchTx = (q: Tx): Tx => ({
    query: async (sql, params) => {
      const r = await q.query(sql, params);
      if (/^\s*INSERT INTO schema_migrations\b/i.test(sql)) {
        const m = migrations.find((x) => x.version === Number(params?.[0]));
        if (m) on.applied(m);
      }
      return r as any;
    },
    exec: (sql) => {
      const m = migrations.find((x) => x.sql === sql);
      if (m) on.start(m);
      return q.exec(sql);
    },
    write: (sql, params, opts) => q.write(sql, params, opts),
  });
  return {
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    tx: (fn) => db.tx((q) => fn(watchTx(q))),
    poolStats: () => db.poolStats(),
    close: () => db.close(),
  };
}

export async function migrateCommand(): Promise<void> {
  const { migrate, MIGRATIONS } = await import('../../store/migrations.ts');
  const local = await openLocalDatabase('migrate', { mustExist: false });
  try {
    print(`Migrating ${local.where} (${MIGRATIONS.length} migrations known)`);
    let started = 0;
    let t0 = 0;
    const watched = watchMigrations(local.db, MIGRATIONS, {
      start(m) { t0 = Date.now(); process.stdout.write(`  applying ${m.version} ${m.name}... `); },
      applied() { started++; print(`done (${Date.now() - t0} ms)`); },
    });
    let ran: number[];
    try {
      ran = await migrate(watched);
    } catch (err) {
      if (t0) print('failed');
      throw new CliError(`migration failed, nothing was applied (all run in one transaction): ${(err as Error).message}`);
    }
    if (ran.length === 0) print('Database is up to date.');
    else print(`Applied ${ran.length} migration${ran.length === 1 ? '' : 's'}${started === ran.length ? '' : `: ${ran.join(', ')}`}; the database is up to date.`);
  } finally {
    await local.close();
  }
}

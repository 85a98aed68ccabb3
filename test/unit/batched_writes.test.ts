/**
 * The batched-write SQL of src/store/db.ts: `combineWrites` (and the merging of plain INSERTs it
 * does first) builds the one statement the PostgreSQL engine sends for a transaction's deferred
 * writes. The embedded PGlite engine runs deferred writes one by one and never sends it, so these
 * tests execute exactly the SQL and parameters combineWrites returns against a real database on
 * every run: an in-memory PGlite by default, a private schema of DATABASE_URL when it is set.
 * They assert on the rows the statement leaves, not only on its text.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { combineWrites, openDatabase, RowExpected, type Db, type Row } from '../../src/store/db.ts';
import { createPrivateSchema, dropPrivateSchemas, STORE, usingPostgres } from '../helpers/processes.ts';

type Write = Parameters<typeof combineWrites>[0][number];

const DIVISION_BY_ZERO = '22012';

const TABLES = `
CREATE TABLE items (
  account_id text NOT NULL,
  id text NOT NULL,
  seq bigserial NOT NULL,
  amount bigint,
  qty int,
  flag boolean,
  data json,
  meta jsonb,
  PRIMARY KEY (account_id, id)
);
CREATE TABLE counters (id text PRIMARY KEY, n int NOT NULL, label text);
CREATE TABLE parents (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE children (id text PRIMARY KEY, parent_id text NOT NULL REFERENCES parents (id), note text);
CREATE TABLE wide (id text PRIMARY KEY, c2 text, c3 text, c4 text, c5 text, c6 text, c7 text, c8 text, c9 text, c10 text, c11 text);
`;

let db: Db;
let schema: string | undefined;

before(async () => {
  let databaseUrl: string | undefined;
  if (usingPostgres()) ({ schema, url: databaseUrl } = await createPrivateSchema('batched_writes'));
  db = await openDatabase({ databaseUrl, dataDir: 'memory://', poolSize: 2 });
  await db.exec(TABLES);
});
after(async () => {
  await db?.close();
  if (schema) await dropPrivateSchemas([schema]);
});
beforeEach(() => db.exec('TRUNCATE items, counters, children, parents, wide'));

/** Runs the one statement combineWrites makes of `writes`, as the PostgreSQL engine sends it. */
async function runCombined(writes: Write[]): Promise<{ sql: string; params: unknown[]; rows: Row[] }> {
  const { sql, params } = combineWrites(writes);
  const { rows } = await db.query(sql, params);
  return { sql, params, rows };
}

/** The SQLSTATE the combined statement of `writes` fails with (fails the test if it runs). */
async function failureCode(writes: Write[]): Promise<string> {
  const err = await runCombined(writes).then((r) => assert.fail(`expected the statement to fail, it ran: ${r.sql}`), (e) => e);
  return (err as { code?: string }).code ?? String(err);
}

/** The number of writes (CTEs) in a combined statement. */
const ctes = (sql: string) => (sql.match(/\bw\d+ AS \(/g) ?? []).length;

const itemInsert = (id: string, amount: number, qty: number | null = 1, account = 'acct_1'): Write => ({
  sql: 'INSERT INTO items (account_id, id, amount, qty) VALUES ($1, $2, $3, $4)',
  params: [account, id, amount, qty],
});
const counterInsert = (id: string, n: number, label: string | null = null): Write => ({
  sql: 'INSERT INTO counters (id, n, label) VALUES ($1, $2, $3)',
  params: [id, n, label],
});
const counterSet = (id: string, n: number, expectRow?: string): Write => ({
  sql: 'UPDATE counters SET n = $2 WHERE id = $1',
  params: [id, n],
  ...(expectRow ? { expectRow } : {}),
});

const items = async () => (await db.query('SELECT id, amount, qty FROM items ORDER BY seq')).rows;
const counters = async () => (await db.query('SELECT id, n, label FROM counters ORDER BY id')).rows;

describe(`combineWrites, run on ${STORE}`, () => {
  describe('edge cases', () => {
    test('an empty batch: nothing to send, and a transaction without deferred writes sends no combined statement', async () => {
      assert.deepEqual(combineWrites([]).params, []);
      // The PostgreSQL engine skips an empty batch (WITH needs at least one CTE): only a
      // transaction that sent nothing can answer here.
      assert.equal(await db.tx(async () => 'no writes'), 'no writes');
      assert.deepEqual(await db.tx(async (q) => (await q.query('SELECT 2 AS two')).rows), [{ two: 2 }]);
    });

    test('a single write is one CTE, and the statement applies it', async () => {
      const { sql, params, rows } = await runCombined([itemInsert('a', 100, 2)]);
      assert.equal(sql, 'WITH w0 AS (INSERT INTO items (account_id, id, amount, qty) VALUES ($1, $2, $3, $4) RETURNING 1 AS touched) SELECT 1 AS ok');
      assert.deepEqual(params, ['acct_1', 'a', 100, 2]);
      assert.deepEqual(rows, [{ ok: 1 }]);
      assert.deepEqual(await items(), [{ id: 'a', amount: 100, qty: 2 }]);
    });

    test('a single update of no row, unguarded, runs and changes nothing', async () => {
      await runCombined([counterInsert('x', 1)]);
      const { rows } = await runCombined([counterSet('missing', 5)]);
      assert.deepEqual(rows, [{ ok: 1 }]);
      assert.deepEqual(await counters(), [{ id: 'x', n: 1, label: null }]);
    });

    test('the input writes are left as they were (merging works on copies), so combining twice gives the same statement', () => {
      const input = [itemInsert('a', 1), counterSet('x', 2), itemInsert('b', 3)];
      const before = structuredClone(input);
      const first = combineWrites(input);
      assert.deepEqual(input, before);
      assert.deepEqual(combineWrites(input), first);
    });
  });

  describe('merged inserts', () => {
    test('inserts with the same text become one multi-row INSERT; rows are inserted, and numbered (seq), in write order', async () => {
      const ids = ['e', 'b', 'd', 'a', 'c'];
      const writes = ids.map((id, i) => itemInsert(id, 100 * (i + 1), i));
      const { sql, params } = await runCombined(writes);
      assert.equal(ctes(sql), 1, sql);
      assert.equal((sql.match(/INSERT INTO items/g) ?? []).length, 1, sql);
      assert.match(sql, /VALUES \(\$1, \$2, \$3, \$4\), \(\$5, \$6, \$7, \$8\), \(\$9, \$10, \$11, \$12\), \(\$13, \$14, \$15, \$16\), \(\$17, \$18, \$19, \$20\) RETURNING/);
      assert.deepEqual(params, writes.flatMap((w) => w.params));
      assert.deepEqual(await items(), ids.map((id, i) => ({ id, amount: 100 * (i + 1), qty: i })));
    });

    test('inserts merge across other writes in between, and keep their order', async () => {
      await runCombined([counterInsert('x', 0), counterInsert('y', 0)]);
      const { sql } = await runCombined([
        itemInsert('3', 3), counterSet('x', 1), itemInsert('1', 1), counterSet('y', 2), itemInsert('2', 2),
      ]);
      assert.equal(ctes(sql), 3, sql);
      assert.deepEqual((await items()).map((r) => r.id), ['3', '1', '2']);
      assert.deepEqual(await counters(), [{ id: 'x', n: 1, label: null }, { id: 'y', n: 2, label: null }]);
    });

    test('a merged insert types each parameter from its column: bigint, int, boolean, null, in any row', async () => {
      const sql = 'INSERT INTO items (account_id, id, amount, qty, flag) VALUES ($1, $2, $3, $4, $5)';
      await runCombined([
        { sql, params: ['acct_1', 'a', 9_007_199_254_740_991, null, true] },
        { sql, params: ['acct_1', 'b', null, 7, false] },
        { sql, params: ['acct_1', 'c', 0, 0, null] },
      ]);
      assert.deepEqual((await db.query('SELECT id, amount, qty, flag FROM items ORDER BY seq')).rows, [
        { id: 'a', amount: 9_007_199_254_740_991, qty: null, flag: true },
        { id: 'b', amount: null, qty: 7, flag: false },
        { id: 'c', amount: 0, qty: 0, flag: null },
      ]);
    });

    test('writes that are not a plain one-row VALUES insert are kept apart, and each still applies', async () => {
      await runCombined([{ sql: 'INSERT INTO parents (id, name) VALUES ($1, $2)', params: ['p0', 'existing'] }]);
      const writes: Write[] = [
        // A function call (parentheses) inside VALUES.
        { sql: 'INSERT INTO parents (id, name) VALUES ($1, upper($2))', params: ['p1', 'one'] },
        { sql: 'INSERT INTO parents (id, name) VALUES ($1, upper($2))', params: ['p2', 'two'] },
        // Text after VALUES.
        { sql: 'INSERT INTO parents (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', params: ['p0', 'ignored'] },
        { sql: 'INSERT INTO parents (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', params: ['p3', 'three'] },
        // INSERT ... SELECT.
        { sql: 'INSERT INTO counters (id, n) SELECT $1, $2', params: ['s', 5] },
        // The same table with another column list.
        { sql: 'INSERT INTO counters (id, n, label) VALUES ($1, $2, $3)', params: ['t', 6, 'six'] },
        { sql: 'INSERT INTO counters (n, id) VALUES ($1, $2)', params: [7, 'u'] },
      ];
      const { sql } = await runCombined(writes);
      assert.equal(ctes(sql), writes.length, sql);
      assert.deepEqual((await db.query('SELECT id, name FROM parents ORDER BY id')).rows, [
        { id: 'p0', name: 'existing' }, { id: 'p1', name: 'ONE' }, { id: 'p2', name: 'TWO' }, { id: 'p3', name: 'three' },
      ]);
      assert.deepEqual(await counters(), [{ id: 's', n: 5, label: null }, { id: 't', n: 6, label: 'six' }, { id: 'u', n: 7, label: null }]);
    });
  });

  describe('mixed writes and parameters', () => {
    test('inserts and updates of several tables in one statement all apply', async () => {
      await runCombined([counterInsert('x', 1, 'one'), counterInsert('y', 2, 'two'), counterInsert('z', 3, 'three')]);
      const { sql } = await runCombined([
        itemInsert('a', 10),
        { sql: 'UPDATE counters SET n = n + $2, label = $3 WHERE id = $1', params: ['x', 10, 'eleven'] },
        itemInsert('b', 20),
        { sql: 'DELETE FROM counters WHERE id = $1', params: ['y'] },
        { sql: 'INSERT INTO parents (id, name) VALUES ($1, $2)', params: ['p', 'parent'] },
        counterSet('z', 30),
      ]);
      assert.equal(ctes(sql), 5, sql);
      assert.deepEqual(await items(), [{ id: 'a', amount: 10, qty: 1 }, { id: 'b', amount: 20, qty: 1 }]);
      assert.deepEqual(await counters(), [{ id: 'x', n: 11, label: 'eleven' }, { id: 'z', n: 30, label: 'three' }]);
      assert.deepEqual((await db.query('SELECT id, name FROM parents')).rows, [{ id: 'p', name: 'parent' }]);
    });

    test('parameters are renumbered across writes: two-digit numbers, a number used twice, numbers out of order', async () => {
      await runCombined([counterInsert('x', 0), counterInsert('y', 0)]);
      const wideRow = ['w', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'v11'];
      const { sql, params } = await runCombined([
        { sql: 'INSERT INTO wide (id, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)', params: wideRow },
        // $2 before $1, and $1 twice.
        { sql: 'UPDATE counters SET n = $2, label = $1 WHERE id = $3 AND label IS DISTINCT FROM $1', params: ['first', 1, 'x'] },
        { sql: 'UPDATE counters SET label = $2, n = $1 WHERE id = $3', params: [2, 'second', 'y'] },
        itemInsert('i1', 100, 1),
        itemInsert('i2', 200, 2),
      ]);
      assert.equal(params.length, 11 + 3 + 3 + 8);
      assert.match(sql, /UPDATE counters SET n = \$13, label = \$12 WHERE id = \$14 AND label IS DISTINCT FROM \$12 RETURNING/);
      assert.match(sql, /UPDATE counters SET label = \$16, n = \$15 WHERE id = \$17 RETURNING/);
      assert.match(sql, /VALUES \(\$18, \$19, \$20, \$21\), \(\$22, \$23, \$24, \$25\) RETURNING/);
      assert.deepEqual((await db.query('SELECT id, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 FROM wide')).rows.map(Object.values), [wideRow]);
      assert.deepEqual(await counters(), [{ id: 'x', n: 1, label: 'first' }, { id: 'y', n: 2, label: 'second' }]);
      assert.deepEqual(await items(), [{ id: 'i1', amount: 100, qty: 1 }, { id: 'i2', amount: 200, qty: 2 }]);
    });

    test('only the SQL is renumbered: a parameter value that reads "$1" arrives as sent', async () => {
      await runCombined([counterInsert('a', 1, 'costs $1'), counterInsert('b', 2, '$2 and $10')]);
      assert.deepEqual(await counters(), [{ id: 'a', n: 1, label: 'costs $1' }, { id: 'b', n: 2, label: '$2 and $10' }]);
    });

    test('json and jsonb: merged rows keep json text as sent and jsonb as its value; a jsonb update merges', async () => {
      const sql = 'INSERT INTO items (account_id, id, data, meta) VALUES ($1, $2, $3, $4::jsonb)';
      const text1 = '{"z": 1, "a": [1, {"b": null}], "s": "quote \\" and $1"}';
      const text2 = '{"id":"obj_2","amount":5}';
      const { sql: combined } = await runCombined([
        { sql, params: ['acct_1', 'j1', text1, JSON.stringify({ tier: 'gold', n: 1 })] },
        { sql, params: ['acct_1', 'j2', text2, JSON.stringify({ tags: ['x', 'y'] })] },
        { sql, params: ['acct_1', 'j3', null, null] },
      ]);
      assert.equal(ctes(combined), 1, combined);
      await runCombined([
        { sql: 'UPDATE items SET meta = meta || $3::jsonb WHERE account_id = $1 AND id = $2', params: ['acct_1', 'j1', JSON.stringify({ n: 2, extra: true })] },
        { sql: 'UPDATE items SET data = $3 WHERE account_id = $1 AND id = $2', params: ['acct_1', 'j3', JSON.stringify([1, 'two'])], expectRow: 'items j3' },
      ]);
      const { rows } = await db.query('SELECT id, data, data::text AS data_text, meta FROM items ORDER BY seq');
      assert.deepEqual(rows, [
        { id: 'j1', data: JSON.parse(text1), data_text: text1, meta: { tier: 'gold', n: 2, extra: true } },
        { id: 'j2', data: JSON.parse(text2), data_text: text2, meta: { tags: ['x', 'y'] } },
        { id: 'j3', data: [1, 'two'], data_text: '[1,"two"]', meta: null },
      ]);
    });
  });

  describe('expectRow guards', () => {
    test('guarded writes that touch their rows pass, also when one touches several rows', async () => {
      await runCombined([counterInsert('x', 1, 'f'), counterInsert('y', 1, 'g'), counterInsert('z', 1, 'g')]);
      const { sql, rows } = await runCombined([
        counterSet('x', 5, 'counters x'),
        { sql: 'UPDATE counters SET label = $2 WHERE label = $1', params: ['g', 'h'], expectRow: 'counters labelled g' },
        itemInsert('a', 1),
      ]);
      assert.match(sql, / SELECT 1 \/ \(SELECT count\(\*\) FROM w0\)::int \+ 1 \/ \(SELECT count\(\*\) FROM w1\)::int AS ok$/);
      assert.deepEqual(rows, [{ ok: 1 }]); // 1/1 + 1/2 in integer division
      assert.deepEqual(await counters(), [{ id: 'x', n: 5, label: 'f' }, { id: 'y', n: 1, label: 'h' }, { id: 'z', n: 1, label: 'h' }]);
      assert.deepEqual(await items(), [{ id: 'a', amount: 1, qty: 1 }]);
    });

    test('a guarded write that touches no row fails the whole statement with division_by_zero: no write of the batch is applied', async () => {
      await runCombined([counterInsert('x', 1)]);
      const code = await failureCode([
        itemInsert('a', 1),
        itemInsert('b', 2),
        counterSet('x', 10, 'counters x'),
        counterSet('missing', 10, 'counters missing'),
        { sql: 'INSERT INTO parents (id, name) VALUES ($1, $2)', params: ['p', 'parent'] },
      ]);
      assert.equal(code, DIVISION_BY_ZERO);
      assert.deepEqual(await items(), []);
      assert.deepEqual(await counters(), [{ id: 'x', n: 1, label: null }]);
      assert.deepEqual((await db.query('SELECT id FROM parents')).rows, []);
    });

    test('an optimistic guard in the WHERE clause (a status that changed) fails the batch', async () => {
      await runCombined([counterInsert('x', 1, 'open')]);
      const guarded = (label: string): Write => ({
        sql: 'UPDATE counters SET n = n + 1, label = $3 WHERE id = $1 AND label = $2', params: ['x', label, 'paid'], expectRow: 'counters x open',
      });
      assert.equal(await failureCode([guarded('draft')]), DIVISION_BY_ZERO);
      assert.deepEqual(await counters(), [{ id: 'x', n: 1, label: 'open' }]);
      await runCombined([guarded('open')]);
      assert.deepEqual(await counters(), [{ id: 'x', n: 2, label: 'paid' }]);
    });

    test('a guarded INSERT is never merged, and fails the batch when it inserts nothing', async () => {
      const { sql } = await runCombined([itemInsert('a', 1), { ...itemInsert('b', 2), expectRow: 'items b' }, itemInsert('c', 3)]);
      assert.equal(ctes(sql), 2, sql);
      assert.deepEqual((await items()).map((r) => r.id).sort(), ['a', 'b', 'c']);
      const code = await failureCode([
        itemInsert('d', 4),
        { sql: 'INSERT INTO items (account_id, id, amount) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', params: ['acct_1', 'a', 99], expectRow: 'items a' },
      ]);
      assert.equal(code, DIVISION_BY_ZERO);
      assert.deepEqual((await items()).map((r) => [r.id, r.amount]).sort(), [['a', 1], ['b', 2], ['c', 3]]);
    });

    test(`through a transaction (${STORE} engine): a guard that misses is RowExpected naming it, and nothing commits`, async () => {
      await runCombined([counterInsert('x', 1)]);
      const err = await db.tx(async (q) => {
        q.write(itemInsert('a', 1).sql, itemInsert('a', 1).params);
        q.write(counterSet('x', 2).sql, counterSet('x', 2).params, { expectRow: 'counters x' });
        q.write(counterSet('missing', 2).sql, counterSet('missing', 2).params, { expectRow: 'counters missing' });
      }).then(() => assert.fail('expected RowExpected'), (e) => e);
      assert.ok(err instanceof RowExpected, String(err));
      // PostgreSQL's one statement cannot tell which guard missed: it names every candidate.
      if (db.kind === 'postgres') assert.deepEqual(err.labels, ['counters x', 'counters missing']);
      else assert.deepEqual(err.labels, ['counters missing']);
      assert.deepEqual(await items(), []);
      assert.deepEqual(await counters(), [{ id: 'x', n: 1, label: null }]);
    });
  });

  describe('dependent writes', () => {
    test('a child and its parent (foreign key) in one batch, in either order: the key is checked at the end of the statement', async () => {
      const parent = (id: string): Write => ({ sql: 'INSERT INTO parents (id, name) VALUES ($1, $2)', params: [id, `name ${id}`] });
      const child = (id: string, parentId: string): Write => ({ sql: 'INSERT INTO children (id, parent_id, note) VALUES ($1, $2, $3)', params: [id, parentId, null] });
      await runCombined([child('c1', 'p1'), parent('p1')]);
      await runCombined([parent('p2'), child('c2', 'p2'), child('c3', 'p2')]);
      assert.deepEqual((await db.query('SELECT id, parent_id FROM children ORDER BY id')).rows, [
        { id: 'c1', parent_id: 'p1' }, { id: 'c2', parent_id: 'p2' }, { id: 'c3', parent_id: 'p2' },
      ]);
      // A child whose parent is in no batch still fails the statement, with nothing written.
      const code = await failureCode([parent('p3'), child('c4', 'nobody')]);
      assert.equal(code, '23503');
      assert.deepEqual((await db.query('SELECT id FROM parents ORDER BY id')).rows.map((r) => r.id), ['p1', 'p2']);
    });

    test('every write of a batch sees the rows as they were before it: an update does not see a row the same batch inserts', async () => {
      // Why one row must never get two writes in one batch, and why a transaction flushes its
      // deferred writes before every read.
      assert.equal(await failureCode([counterInsert('x', 1), counterSet('x', 2, 'counters x')]), DIVISION_BY_ZERO);
      assert.deepEqual(await counters(), []);
      await runCombined([counterInsert('x', 1), counterSet('x', 2)]);
      assert.deepEqual(await counters(), [{ id: 'x', n: 1, label: null }], 'the unguarded update touched nothing');
    });

    test(`through a transaction (${STORE} engine): a read between writes sends the earlier batch first, so later writes see it`, async () => {
      const seen = await db.tx(async (q) => {
        q.write(counterInsert('x', 1).sql, counterInsert('x', 1).params);
        q.write(itemInsert('a', 1).sql, itemInsert('a', 1).params);
        const { rows } = await q.query('SELECT n FROM counters WHERE id = $1', ['x']);
        q.write(counterSet('x', rows[0].n + 1).sql, counterSet('x', rows[0].n + 1).params, { expectRow: 'counters x' });
        q.write(itemInsert('b', 2).sql, itemInsert('b', 2).params);
        return rows;
      });
      assert.deepEqual(seen, [{ n: 1 }]);
      assert.deepEqual(await counters(), [{ id: 'x', n: 2, label: null }]);
      assert.deepEqual((await items()).map((r) => r.id), ['a', 'b']);
    });
  });
});

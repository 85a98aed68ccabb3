/**
 * Key administration (src/accounts/keys.ts) as `oncepay keys` uses it: listing, a new key for an
 * existing account, revoking by key or hint (ambiguous hints refused), and what a revoked key
 * resolves to. Runs on a private PostgreSQL schema when DATABASE_URL is set, else in-memory PGlite.
 * Also: the migration watcher behind `oncepay migrate`'s progress.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../src/store/db.ts';
import { migrate, MIGRATIONS } from '../../src/store/migrations.ts';
import {
  createAccount, createKeyForAccount, createPublishableKey, createRestrictedKey, generateSecretKey, hashKey, KeyAdminError, keyHint,
  KeyResolver, listKeys, publishableKeyFor, revokeKey,
} from '../../src/accounts/keys.ts';
import { watchMigrations } from '../../src/cli/commands/migrate.ts';
import { createPrivateSchema, dropPrivateSchemas } from '../helpers/processes.ts';

let db: Db;
let schema: string | undefined;
const started: string[] = [];
const applied: string[] = [];

before(async () => {
  if (process.env.DATABASE_URL) {
    const s = await createPrivateSchema('clikeys');
    schema = s.schema;
    db = await openDatabase({ databaseUrl: s.url, dataDir: 'memory://', poolSize: 4 });
  } else {
    db = await openDatabase({ dataDir: 'memory://' });
  }
  // Fresh database: migrate through the watcher, as `oncepay migrate` does.
  const ran = await migrate(watchMigrations(db, MIGRATIONS, {
    start: (m) => started.push(m.name), applied: (m) => applied.push(m.name),
  }));
  assert.deepEqual(ran, MIGRATIONS.map((m) => m.version));
});
after(async () => {
  await db?.close();
  if (schema) await dropPrivateSchemas([schema]);
});

const ofAccount = async (accountId: string) => listKeys(db, { accountId });

/** A key whose hint is the given prefix/suffix: `sk_test_` + 4 chars + filler + 4 chars. */
const keyWith = (middle4: string, last4: string) => `sk_test_${middle4}${generateSecretKey().slice(8, 48)}${last4}`;

describe('oncepay migrate progress', () => {
  test('every migration is reported as started, then as applied, in order', () => {
    assert.deepEqual(started, MIGRATIONS.map((m) => m.name));
    assert.deepEqual(applied, MIGRATIONS.map((m) => m.name));
  });

  test('a second run applies nothing and reports nothing', async () => {
    const seen: string[] = [];
    const ran = await migrate(watchMigrations(db, MIGRATIONS, { start: (m) => seen.push(m.name), applied: (m) => seen.push(m.name) }));
    assert.deepEqual(ran, []);
    assert.deepEqual(seen, []);
  });
});

describe('key hints', () => {
  test('generated keys show sk_test_ + 4 characters ... the last 4; short keys show less', () => {
    const key = generateSecretKey();
    assert.equal(keyHint(key), `${key.slice(0, 12)}...${key.slice(-4)}`);
    assert.match(keyHint(key), /^sk_test_[A-Za-z0-9]{4}\.\.\.[A-Za-z0-9]{4}$/);
    assert.equal(keyHint('sk_test_mykey12345'), 'sk_test_...2345');
  });
});

describe('listKeys / createKeyForAccount', () => {
  test('a new key for an existing account: both listed, oldest first, active', async () => {
    const { accountId, key } = await createAccount(db);
    const second = await createKeyForAccount(db, accountId);
    assert.equal(second.accountId, accountId);
    assert.notEqual(second.key, key);
    const keys = (await ofAccount(accountId)).filter((k) => k.kind === 'secret');
    assert.deepEqual(keys.map((k) => k.hint).sort(), [keyHint(key), keyHint(second.key)].sort());
    for (const k of keys) {
      assert.equal(k.accountId, accountId);
      assert.equal(k.revokedAt, null);
      assert.ok(Math.abs(k.created - Date.now() / 1000) < 120);
    }
    assert.equal((await new KeyResolver(db).resolve(second.key))?.accountId ?? null, accountId);
    const all = await listKeys(db);
    assert.ok(all.filter((k) => k.accountId === accountId && k.kind === 'secret').length === 2);
    assert.ok(!JSON.stringify(all).includes(key), 'a listing never holds a key in clear');
  });

  test('an unknown account is refused and nothing is written', async () => {
    const before = (await listKeys(db)).length;
    await assert.rejects(createKeyForAccount(db, 'acct_doesnotexist'),
      (err: unknown) => err instanceof KeyAdminError && err.code === 'no_such_account' && /acct_doesnotexist/.test(err.message));
    assert.equal((await listKeys(db)).length, before);
  });
});

describe('revokeKey', () => {
  test('by full key: revoked, resolves to nothing, listed with its revocation time; again: alreadyRevoked', async () => {
    const { accountId, key } = await createAccount(db);
    const r = await revokeKey(db, key, 1_900_000_000);
    assert.equal(r.alreadyRevoked, false);
    assert.equal(r.key.accountId, accountId);
    assert.equal(r.key.hint, keyHint(key));
    assert.equal(r.key.revokedAt, 1_900_000_000);
    assert.equal((await new KeyResolver(db).resolve(key))?.accountId ?? null, null);
    assert.equal((await ofAccount(accountId))[0].revokedAt, 1_900_000_000);
    const again = await revokeKey(db, key);
    assert.equal(again.alreadyRevoked, true);
    assert.equal(again.key.revokedAt, 1_900_000_000, 'the first revocation time is kept');
  });

  test('by hint (also written with a Unicode ellipsis); the other key of the account stays active', async () => {
    const { accountId, key } = await createAccount(db);
    const other = await createKeyForAccount(db, accountId);
    const r = await revokeKey(db, keyHint(key).replace('...', '\u2026'));
    assert.equal(r.alreadyRevoked, false);
    assert.equal(r.key.hint, keyHint(key));
    const resolver = new KeyResolver(db);
    assert.equal((await resolver.resolve(key))?.accountId ?? null, null);
    assert.equal((await resolver.resolve(other.key))?.accountId ?? null, accountId);
  });

  test('a hint matching two active keys is refused, naming both accounts; the full key works', async () => {
    const a = await createAccount(db, keyWith('Ambi', 'Guus'));
    const b = await createAccount(db, keyWith('Ambi', 'Guus'));
    assert.equal(keyHint(a.key), keyHint(b.key));
    await assert.rejects(revokeKey(db, keyHint(a.key)), (err: unknown) => {
      assert.ok(err instanceof KeyAdminError && err.code === 'ambiguous_hint', String(err));
      assert.match(err.message, new RegExp(`${a.accountId}.*${b.accountId}|${b.accountId}.*${a.accountId}`));
      assert.match(err.message, /full key/);
      assert.equal(err.candidates.length, 2);
      return true;
    });
    const resolver = new KeyResolver(db, { ttlMs: 0 });
    assert.equal((await resolver.resolve(a.key))?.accountId ?? null, a.accountId, 'nothing revoked by the refused hint');
    assert.equal((await resolver.resolve(b.key))?.accountId ?? null, b.accountId);
    await revokeKey(db, a.key);
    // Only one active key has that hint now: the hint is no longer ambiguous.
    const r = await revokeKey(db, keyHint(b.key));
    assert.equal(r.key.accountId, b.accountId);
    assert.equal((await resolver.resolve(b.key))?.accountId ?? null, null);
  });

  test('unknown keys and hints are refused without revealing anything', async () => {
    await assert.rejects(revokeKey(db, 'sk_test_...zzzz'), (err: unknown) => err instanceof KeyAdminError && err.code === 'no_such_key');
    const missing = generateSecretKey();
    await assert.rejects(revokeKey(db, missing), (err: unknown) =>
      err instanceof KeyAdminError && err.code === 'no_such_key' && !err.message.includes(missing.slice(8, -4)));
    await assert.rejects(revokeKey(db, '  '), (err: unknown) => err instanceof KeyAdminError && err.code === 'no_such_key');
  });

  test('keys are stored hashed: revoking flips exactly one row', async () => {
    const { key } = await createAccount(db);
    await revokeKey(db, key);
    const { rows } = await db.query('SELECT revoked_at FROM api_keys WHERE key_hash = $1', [hashKey(key)]);
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0].revoked_at, null);
  });
});

describe('key kinds', () => {
  test('an account has its publishable key, derived from its first secret key and listed whole', async () => {
    const { accountId, key } = await createAccount(db);
    const pk = (await ofAccount(accountId)).filter((k) => k.kind === 'publishable');
    assert.deepEqual(pk.map((k) => k.hint), [publishableKeyFor(key)]);
    assert.match(pk[0].hint, /^pk_test_[0-9a-f]{48}$/);
    assert.deepEqual(await new KeyResolver(db).resolve(pk[0].hint), { accountId, kind: 'publishable', permissions: null });
    const more = await createPublishableKey(db, accountId);
    assert.equal((await new KeyResolver(db).resolve(more.key))?.kind, 'publishable');
  });

  test('a restricted key resolves with its permissions', async () => {
    const { accountId } = await createAccount(db);
    const { key } = await createRestrictedKey(db, accountId, { customers: 'read', payment_intents: 'write' });
    assert.match(key, /^rk_test_/);
    assert.deepEqual(await new KeyResolver(db).resolve(key), { accountId, kind: 'restricted', permissions: { customers: 'read', payment_intents: 'write' } });
    const listed = (await ofAccount(accountId)).find((k) => k.kind === 'restricted')!;
    assert.equal(listed.hint, keyHint(key));
    assert.deepEqual(listed.permissions, { customers: 'read', payment_intents: 'write' });
  });

  test('any-key mode: 20 concurrent first uses of one new key make one account; off, the key is unknown', async () => {
    const key = `sk_test_${generateSecretKey().slice(8, 40)}`;
    assert.equal(await new KeyResolver(db).resolve(key), null, 'off by default');
    const resolvers = Array.from({ length: 20 }, () => new KeyResolver(db, { acceptAnyKey: true }));
    const got = await Promise.all(resolvers.map((r) => r.resolve(key)));
    assert.equal(new Set(got.map((g) => g?.accountId)).size, 1);
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(DISTINCT account_id)::int AS n FROM api_keys WHERE key_hash = ANY($1)', [[hashKey(key), hashKey(publishableKeyFor(key))]]);
    assert.equal(rows[0].n, 1);
    const { rows: accounts } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts WHERE id = $1', [got[0]!.accountId]);
    assert.equal(accounts[0].n, 1);
  });

  test('any-key mode: a malformed or revoked key gets no account', async () => {
    const resolver = new KeyResolver(db, { acceptAnyKey: true, ttlMs: 0 });
    const before = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts')).rows[0].n;
    for (const bad of ['sk_test_short', 'sk_live_abcdefghijkl', 'rk_test_abcdefghijkl', 'pk_test_abcdefghijkl', 'sk_test_abc-defghijkl']) {
      assert.equal(await resolver.resolve(bad), null, bad);
    }
    const { key } = await createAccount(db);
    await revokeKey(db, key);
    assert.equal(await resolver.resolve(key), null, 'revoked stays refused');
    assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts')).rows[0].n, before + 1);
  });
});

/**
 * `npm ci` on a supported Node prints no EBADENGINE warning: every package in package-lock.json
 * accepts the lowest version of each Node line package.json's "engines" promises. The overrides
 * that keep it so (cookie, content-disposition: their newest majors want Node 22) are checked to
 * still give their dependents the functions those call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The semver package (already in node_modules for npm's own tools; no types shipped): what this test uses of it. */
interface Semver {
  Range: new (range: string) => { set: { value: string }[][] };
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
  major(version: string): number;
}
const semver = createRequire(import.meta.url)('semver') as Semver;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));
const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, 'utf8'));

/** 20.19.0 and 22.12.0 for "^20.19.0 || >=22.12.0". */
const lowestSupported = (range: string): string[] =>
  new semver.Range(range).set.map((comparators) => semver.minVersion(comparators.map((c) => c.value).join(' '))!.version);

test('package.json promises Node 20', () => {
  const versions = lowestSupported(pkg.engines.node);
  assert.ok(versions.some((v) => semver.major(v) === 20), `engines.node ${pkg.engines.node}`);
});

test("every locked package's engines.node accepts each supported Node line's lowest version", () => {
  const versions = lowestSupported(pkg.engines.node);
  const refusing: string[] = [];
  for (const [path, entry] of Object.entries<{ version?: string; engines?: { node?: string } | string[] }>(lock.packages)) {
    const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
    if (!path || !range) continue;
    for (const v of versions) if (!semver.satisfies(v, range)) refusing.push(`${path}@${entry.version} wants node ${range}, not ${v}`);
  }
  assert.deepEqual(refusing, []);
});

test('the overridden cookie and content-disposition give their dependents what they call', () => {
  const fromLightMyRequest = createRequire(createRequire(`${ROOT}node_modules/fastify/package.json`).resolve('light-my-request'));
  const cookie = fromLightMyRequest('cookie');
  assert.equal(cookie.stringifySetCookie({ name: 'a', value: 'b c' }), 'a=b%20c');
  // @fastify/cookie (the hosted pages' CSRF cookie) calls these two.
  const fromFastifyCookie = createRequire(`${ROOT}node_modules/@fastify/cookie/package.json`);
  const itsCookie = fromFastifyCookie('cookie');
  assert.equal(itsCookie.stringifySetCookie({ name: 'a', value: 'b c', httpOnly: true }), 'a=b%20c; HttpOnly');
  assert.deepEqual({ ...itsCookie.parseCookie('a=b%20c; d=e') }, { a: 'b c', d: 'e' });
  const fromStatic = createRequire(createRequire(`${ROOT}node_modules/@fastify/swagger-ui/package.json`).resolve('@fastify/static'));
  const { create } = fromStatic('content-disposition');
  assert.equal(create('report 1.pdf'), 'attachment; filename="report 1.pdf"');
});

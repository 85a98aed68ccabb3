/**
 * Minimal reproduction of the crash the campaign finds on every PostgreSQL restart:
 *
 *   node --import tsx campaign/repro_pg_restart.ts
 *
 * One Oncepay server on a throwaway cluster of its own, four clients creating customers in a
 * loop, then `pg_ctl restart -m fast`. The server dies with "Unhandled 'error' event ... error:
 * terminating connection due to administrator command (57P01)" (or, with -m immediate,
 * "Connection terminated unexpectedly"): a pg.PoolClient checked out by `tx()` in
 * src/store/db.ts has no 'error' listener while it is checked out, and node-postgres emits
 * 'error' on a client whose connection ends, whether or not a query was running on it.
 * Exits 1 when the server died, 0 when it survived five restarts.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net_util.ts';
import { PgCluster } from './pg_cluster.ts';
import { sleep } from './prng.ts';
import { ROOT } from './servers.ts';

const mode = process.argv[2] === 'immediate' ? 'immediate' : 'fast';
const dir = mkdtempSync(join(tmpdir(), 'oncepay-repro-'));
chmodSync(dir, 0o755);
const cluster = new PgCluster(dir);
await cluster.start();
await cluster.createDatabase('oncepay');
const port = await freePort();
const key = 'sk_test_repro_0123456789abcdef';
const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
  cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: cluster.url('oncepay'), ONCEPAY_SECRET_KEY: key, ONCEPAY_LOG_LEVEL: 'error' },
});
let out = '';
child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
let exit: string | undefined;
child.on('exit', (code, signal) => { exit = `code ${code}, signal ${signal}`; });
while (!out.includes('Oncepay listening on') && !exit) await sleep(100);

let requests = 0;
for (let w = 0; w < 4; w++) {
  void (async () => {
    while (!exit) {
      try {
        await fetch(`http://127.0.0.1:${port}/v1/customers`, {
          method: 'POST', body: 'email=ada@example.com',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
        });
        requests++;
      } catch {
        await sleep(50);
      }
    }
  })();
}
await sleep(1000);
for (let i = 1; i <= 5 && !exit; i++) {
  await cluster.restart(mode);
  await sleep(1500);
  console.log(`pg_ctl restart -m ${mode} #${i}: server ${exit ? `died (${exit})` : 'alive'}, ${requests} requests so far`);
}
const died = exit !== undefined;
if (died) console.log(`\nserver output:\n${out.split('\n').slice(1, 16).join('\n')}`);
child.kill('SIGKILL');
await cluster.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(died ? 1 : 0);

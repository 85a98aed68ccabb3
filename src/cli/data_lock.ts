/**
 * A pid file in the embedded data directory (`oncepay.pid`). The embedded engine belongs to one
 * process (the server that started its PostgreSQL; PGlite cannot be opened twice at all), so
 * whichever Oncepay process opens the directory (`serve`, `migrate`, `keys ...`) first writes the file (created exclusively) and removes it when it exits; the
 * others refuse to start while it names a live process. A file left by a process that died (or
 * whose pid now belongs to another program) is stale and ignored.
 */
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CliError } from './errors.ts';

export const LOCK_FILE = 'oncepay.pid';

export interface LockInfo {
  pid: number;
  hostname: string;
  command: string;
  /** ISO time the holder took the lock. */
  started: string;
  /** Linux: the holder's start time in clock ticks since boot (/proc/<pid>/stat), to detect a reused pid. */
  procStart?: string;
}

export const lockPath = (dataDir: string) => join(dataDir, LOCK_FILE);

/** Start time of a process (Linux only), or undefined. */
function procStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: fields after the last ')' start at field 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process the lock names still runs. Another host's processes cannot be checked: assumed alive. */
export function holderAlive(info: LockInfo): boolean {
  if (info.hostname !== hostname()) return true;
  if (info.pid === process.pid) return false;
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code === 'ESRCH') return false;
    // EPERM: it exists and belongs to another user.
  }
  const now = procStartOf(info.pid);
  return !(info.procStart && now && now !== info.procStart);
}

function readLock(path: string): LockInfo | 'unreadable' | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    if (Number.isInteger(info.pid) && typeof info.hostname === 'string') return info;
  } catch { /* below */ }
  return 'unreadable';
}

/** The live process holding the directory, if any (a stale file counts as none). */
export function lockHolder(dataDir: string): LockInfo | null {
  const info = readLock(lockPath(dataDir));
  if (info === null) return null;
  if (info === 'unreadable') return null;
  return holderAlive(info) ? info : null;
}

export function busyMessage(dataDir: string, info: LockInfo, requester: string): string {
  const who = info.command === 'serve' ? 'an Oncepay server' : `another oncepay command (${info.command})`;
  const sameHost = info.hostname === hostname();
  const where = sameHost ? '' : ` on host ${info.hostname}`;
  const hint = info.command !== 'serve' ? 'wait for it to finish'
    : requester === 'serve' ? 'only one server runs on an embedded data directory (several can share a PostgreSQL database: DATABASE_URL)'
    : 'embedded PGlite cannot be opened by two processes at once: stop the server first (the embedded PostgreSQL and DATABASE_URL allow this while servers run)';
  const stale = sameHost ? '' : `; if nothing runs there any more, delete ${lockPath(dataDir)}`;
  return `${who} (pid ${info.pid}${where}, since ${info.started}) is using the embedded database in ${dataDir}: ${hint}${stale}`;
}

export interface DataDirLock {
  release(): void;
}

/**
 * Takes the directory for this process (the directory must exist); throws CliError when a live
 * process holds it. The file is removed by release() or, at the latest, when the process exits.
 */
export function acquireDataDirLock(dataDir: string, command: string): DataDirLock {
  const path = lockPath(dataDir);
  const mine: LockInfo = {
    pid: process.pid, hostname: hostname(), command, started: new Date().toISOString(), procStart: procStartOf(process.pid),
  };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, text, { flag: 'wx', mode: 0o644 });
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST' || attempt >= 3) throw err;
    }
    const info = readLock(path);
    if (info === 'unreadable') {
      // Being written this very moment by another process, or garbage left by a crash.
      let age = Infinity;
      try { age = Date.now() - statSync(path).mtimeMs; } catch { /* gone */ }
      if (age < 2000) throw new CliError(`another process is taking the embedded database in ${dataDir} right now (${path})`);
    } else if (info && holderAlive(info)) {
      throw new CliError(busyMessage(dataDir, info, command));
    }
    try { unlinkSync(path); } catch (err) { if ((err as { code?: string }).code !== 'ENOENT') throw err; }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    // Only our own file: never remove a lock another process took after ours went stale.
    const info = readLock(path);
    if (info && info !== 'unreadable' && info.pid === process.pid && info.hostname === mine.hostname) {
      try { unlinkSync(path); } catch { /* already gone */ }
    }
  };
  process.on('exit', release);
  return { release };
}

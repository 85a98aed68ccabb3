/**
 * Memory of a process tree from /proc (Linux): the server and every descendant (an embedded
 * PostgreSQL and its backends). RSS counts shared pages once per process (PostgreSQL's shared
 * buffers once per backend); PSS divides each shared page among the processes mapping it, so
 * the tree's PSS is what it really costs.
 */
import { readFileSync, readdirSync } from 'node:fs';

function children(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tasks) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch { /* the task ended */ }
  }
  return out;
}

/** The pid and all its descendants. */
export function processTree(root: number): number[] {
  const seen: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.includes(pid)) continue;
    seen.push(pid);
    queue.push(...children(pid));
  }
  return seen;
}

/** A field of /proc/<pid>/<file> in kB (0 when the process or the field is gone). */
function kB(pid: number, file: string, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface TreeMemory { rssMb: number; pssMb: number; processes: number }

export function treeMemory(root: number): TreeMemory {
  const pids = processTree(root);
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    rss += kB(pid, 'status', 'VmRSS');
    pss += kB(pid, 'smaps_rollup', 'Pss');
  }
  return { rssMb: rss / 1024, pssMb: pss / 1024, processes: pids.length };
}

/** Samples treeMemory every intervalMs until stopped; returns the largest sample. */
export function sampleMemory(root: number, intervalMs = 500): { stop(): TreeMemory } {
  let peak: TreeMemory = treeMemory(root);
  const timer = setInterval(() => {
    const m = treeMemory(root);
    if (m.rssMb > peak.rssMb) peak = { ...m, pssMb: Math.max(m.pssMb, peak.pssMb) };
    else if (m.pssMb > peak.pssMb) peak = { ...peak, pssMb: m.pssMb };
  }, intervalMs);
  return { stop: () => { clearInterval(timer); return peak; } };
}

/**
 * Background loops: the completer (finishes abandoned requests) and the reaper (expires old
 * keys). Each run never overlaps itself; stop() waits for the run in flight.
 */
import type { Logger } from 'pino';
import type { IdempotencyEngine } from './engine.ts';

export interface Loop {
  stop(): Promise<void>;
  /** Runs one pass now (tests use this instead of waiting). */
  runOnce(): Promise<number>;
}

export function startLoop(name: string, intervalMs: number, pass: () => Promise<number>, log: Logger): Loop {
  let stopped = false;
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const runOnce = async () => {
    while (running) await running.catch(() => 0);
    running = pass().finally(() => { running = undefined; });
    return running;
  };
  const tick = async () => {
    if (stopped) return;
    try {
      const n = await runOnce();
      if (n > 0) log.info({ worker: name, count: n }, `${name} pass`);
    } catch (err) {
      log.warn({ worker: name, err }, `${name} pass failed`);
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);
  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => 0);
    },
  };
}

export function startCompleter(engine: IdempotencyEngine, intervalMs: number, graceMs: number, log: Logger): Loop {
  return startLoop('completer', intervalMs, () => engine.completeAbandoned({ graceMs }), log);
}

export function startReaper(engine: IdempotencyEngine, intervalMs: number, retentionMs: number, log: Logger): Loop {
  return startLoop('reaper', intervalMs, () => engine.reapExpired(retentionMs), log);
}

/** Waiting in tests for something that happens asynchronously (a webhook delivered, a worker's pass). */
import assert from 'node:assert/strict';

/** Calls `fn` every `intervalMs` until `done` says yes; fails naming `what` and the last value after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, done: (v: T) => boolean, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (done(v)) return v;
    if (Date.now() >= deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(v)?.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

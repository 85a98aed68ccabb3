/**
 * The follow loop of `listen` and `logs tail`: run one polling pass every interval until ^C,
 * riding out an unreachable server or its 429/5xx answers with one note each (and one when it
 * is back), failing on anything else.
 */
import { ApiRequestError, Unreachable } from './api_client.ts';
import { note } from './output.ts';
import { sleep } from './sleep.ts';

export async function follow(
  apiBase: string, opts: { intervalMs: number; signal?: AbortSignal },
  /** One pass; calls `online()` once the server has answered. */
  pass: (online: () => void) => Promise<void>,
): Promise<void> {
  let offline = false;
  const online = () => {
    if (offline) { note(`reconnected to ${apiBase}`); offline = false; }
  };
  while (!opts.signal?.aborted) {
    try {
      await pass(online);
    } catch (err) {
      if (err instanceof Unreachable) {
        if (!offline) note(`${err.message}; retrying...`);
        offline = true;
      } else if (err instanceof ApiRequestError && (err.status === 429 || err.status >= 500)) {
        note(`${err.message}; retrying...`);
      } else {
        throw err;
      }
    }
    await sleep(opts.intervalMs, opts.signal);
  }
}

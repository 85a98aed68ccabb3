/** `oncepay events list`: the account's events, newest first (GET /v1/events). */
import { listAll, type ApiClient } from '../api_client.ts';
import { eventRows, note, print, type EventLine } from '../output.ts';

export async function eventsList(client: ApiClient, opts: { type?: string; limit: number; json?: boolean }): Promise<void> {
  const events = await listAll<EventLine>(client, '/v1/events', opts.type ? { type: opts.type } : {}, opts.limit);
  if (opts.json) {
    for (const e of events) print(JSON.stringify(e));
    return;
  }
  if (events.length === 0) {
    note(opts.type ? `No ${opts.type} events.` : 'No events.');
    return;
  }
  for (const line of eventRows(events)) print(line);
}

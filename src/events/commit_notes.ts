/**
 * What a transaction wrote that concerns the webhook dispatcher, noted as the writes are made
 * (they are deferred: their results are not known to the caller). Read once the transaction has
 * committed (WebhookDispatcher.committed), so the dispatcher runs a claim only after a commit
 * that may have written deliveries, not after every commit. A transaction that rolls back is
 * never read, and its notes go with it.
 */
import type { Tx } from '../store/db.ts';

export interface CommitNotes {
  /** Event types emitted, by account: deliveries were written for the endpoints that want them. */
  events: Map<string, Set<string>>;
  /** Delivery rows written directly (a redelivery). */
  deliveries: boolean;
  /** Accounts whose webhook endpoints were created, changed or deleted. */
  endpointsChanged: Set<string>;
}

const notes = new WeakMap<Tx, CommitNotes>();

function notesOf(q: Tx): CommitNotes {
  let n = notes.get(q);
  if (!n) notes.set(q, (n = { events: new Map(), deliveries: false, endpointsChanged: new Set() }));
  return n;
}

export function noteEvent(q: Tx, accountId: string, type: string): void {
  const events = notesOf(q).events;
  const types = events.get(accountId);
  if (types) types.add(type);
  else events.set(accountId, new Set([type]));
}

export const noteDeliveries = (q: Tx): void => { notesOf(q).deliveries = true; };

export const noteEndpointsChanged = (q: Tx, accountId: string): void => { notesOf(q).endpointsChanged.add(accountId); };

/** The notes of a committed transaction, or undefined when it wrote nothing of the kind. */
export const commitNotes = (q: Tx): CommitNotes | undefined => notes.get(q);

/** Stripe's metadata: string keys to string values. */
export type Metadata = Record<string, string>;

/** Stripe's metadata update: null clears everything, a null value deletes that key, others set. */
export function applyMetadata(current: Metadata, update: Record<string, string | null> | null): Metadata {
  if (update === null) return {};
  const next: Metadata = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  return next;
}

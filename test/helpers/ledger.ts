/**
 * Reading the test acquirer's ledger (TestServer.ledger, ServerProcess.ledger): the ground truth
 * of how much money moved.
 */

/** What `sales` needs of a ledger entry (both the in-process and the spawned server's entries). */
export interface LedgerLike { kind: string; outcome: string }

export interface SalesOptions {
  /** Count the `capture` entries of manual-capture holds as sales too. */
  captures?: boolean;
  /**
   * Which outcomes count. By default only money taken: a sale `approved`, a capture `captured`.
   * `'any'` keeps every entry of those kinds; a function decides by the outcome.
   */
  outcome?: 'any' | ((outcome: string) => boolean);
}

const TAKEN: Record<string, string> = { sale: 'approved', capture: 'captured' };

/**
 * The sales in `entries`, in ledger order: approved entries of kind `sale` by default; see
 * SalesOptions for captures and other outcomes.
 */
export function sales<E extends LedgerLike>(entries: E[], opts: SalesOptions = {}): E[] {
  const kinds = opts.captures ? ['sale', 'capture'] : ['sale'];
  const outcome = opts.outcome;
  return entries.filter((e) => kinds.includes(e.kind)
    && (outcome === 'any' ? true : outcome ? outcome(e.outcome) : e.outcome === TAKEN[e.kind]));
}

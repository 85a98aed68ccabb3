/**
 * The built-in test acquirer. It behaves like a real one: a durable ledger in its own tables,
 * its own idempotency by downstream key (a repeated key returns the first answer and moves no
 * money), amount checks on captures and refunds, and fault cards that lose answers or fail
 * before charging. Its ledger is the ground truth tests use to prove "never charged twice".
 */
import { randomId } from '../ids.ts';
import type { Db, Queryable } from '../store/db.ts';
import { cardByRef, type CardBehaviour } from './cards.ts';
import {
  type AuthorizeRequest, type AuthorizeResult, type Decline, type FollowUpRequest, type LedgerEntry, type Processor, type VerifyRequest, type VerifyResult,
  ProcessorRejected, ProcessorTimeout, ProcessorUnavailable,
} from './types.ts';

interface OperationRow {
  kind: LedgerEntry['kind'];
  result: any;
  attempts: number;
}

/** A payment off session with a card that needs authentication: the issuer declines it (Stripe's authentication_required). */
const AUTHENTICATION_REQUIRED: Decline = {
  code: 'authentication_required', decline_code: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.', advice_code: 'try_again_later',
};

const declined = (d: Decline) => ({ ...d, outcome: 'declined' as const });

/** What the issuer answers a payment with this card (before the acquirer's own faults). */
function paymentOutcome(b: CardBehaviour, req: AuthorizeRequest): AuthorizeResult {
  if (b.kind === 'decline') { const { kind: _k, verifies: _v, ...d } = b; return declined(d); }
  if (b.kind === 'authentication_required') {
    if (!req.authenticated && !req.offSession) return { outcome: 'requires_action' };
    // Off session nobody can authenticate: only a card set up for it (Stripe's 3155) goes through.
    if (!req.authenticated && !(b.offSessionOnceSetUp && req.setUpForOffSession)) return declined(AUTHENTICATION_REQUIRED);
    if (b.then) return declined(b.then);
  }
  return { outcome: 'approved', captured: req.capture, network_transaction_id: randomId(15) };
}

/** What the issuer answers a card check: declines as a payment would (but 0341's), 3-D Secure on a setup. */
function verifyOutcome(b: CardBehaviour, req: VerifyRequest): VerifyResult {
  if (b.kind === 'decline' && !b.verifies) { const { kind: _k, verifies: _v, ...d } = b; return declined(d); }
  if (b.kind === 'authentication_required' && req.setup && !req.authenticated) return { outcome: 'requires_action' };
  return { outcome: 'approved' };
}

const LEDGER_COLUMNS = 'downstream_key, kind, reference, payment_method, amount, currency, outcome, attempts, created_at';

export class TestAcquirer implements Processor {
  constructor(private readonly db: Db) {}

  async authorize(req: AuthorizeRequest): Promise<AuthorizeResult> {
    const card = cardByRef(req.cardRef);
    if (!card) throw new ProcessorRejected(`unknown card ${req.cardRef}`);
    const b = card.behaviour;
    if (b.kind === 'error_before_charge') {
      const prior = await this.lookup(req.accountId, req.downstreamKey);
      if (!prior && (await this.refuseOnce(this.db, req.accountId, req.downstreamKey))) {
        throw new ProcessorUnavailable('test acquirer: 503 before charging (fault card pm_card_oncepay_errorBeforeCharge)');
      }
    }
    if (b.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, b.ms));
    const result = paymentOutcome(b, req);
    const kind = result.outcome === 'approved' && req.capture ? 'sale' : 'authorization';
    // One statement: record the operation, or count a repeat of its downstream key and return the first answer.
    const recorded = await this.record(this.db, req, kind, result.outcome, result);
    if (b.kind === 'timeout_after_charge' && recorded.attempts === 1) {
      throw new ProcessorTimeout('test acquirer: answer lost after charging (fault card pm_card_oncepay_timeoutAfterCharge)');
    }
    return recorded.result as AuthorizeResult;
  }

  async verify(req: VerifyRequest): Promise<VerifyResult> {
    const card = cardByRef(req.cardRef);
    if (!card) throw new ProcessorRejected(`unknown card ${req.cardRef}`);
    const result = verifyOutcome(card.behaviour, req);
    const recorded = await this.record(this.db, { ...req, amount: 0, currency: 'usd' }, 'verification', result.outcome, result);
    return recorded.result as VerifyResult;
  }

  capture(req: FollowUpRequest): Promise<{ outcome: 'captured' }> {
    return this.followUp(req, 'capture', 'captured', async (q, auth) => {
      if (auth.kind !== 'authorization' || auth.result.outcome !== 'approved') throw new ProcessorRejected('nothing to capture');
      if (await this.hasFollowUp(q, req, ['capture', 'void'])) throw new ProcessorRejected('authorization already closed');
      if (req.amount > auth.amount) throw new ProcessorRejected('capture exceeds authorization');
    });
  }

  void(req: FollowUpRequest): Promise<{ outcome: 'voided' }> {
    return this.followUp(req, 'void', 'voided', async (q, auth) => {
      if (auth.kind !== 'authorization' || auth.result.outcome !== 'approved') throw new ProcessorRejected('nothing to void');
      if (await this.hasFollowUp(q, req, ['capture', 'void'])) throw new ProcessorRejected('authorization already closed');
    });
  }

  refund(req: FollowUpRequest): Promise<{ outcome: 'refunded' }> {
    return this.followUp(req, 'refund', 'refunded', async (q, auth) => {
      let captured = 0;
      if (auth.kind === 'sale' && auth.result.outcome === 'approved') captured = auth.amount;
      else {
        const { rows } = await q.query<{ amount: number }>(
          `SELECT amount FROM acquirer_operations WHERE account_id = $1 AND kind = 'capture' AND result->>'authorization' = $2`,
          [req.accountId, req.authorization]);
        captured = rows.reduce((s, r) => s + r.amount, 0);
      }
      const { rows } = await q.query<{ total: number }>(
        `SELECT COALESCE(SUM(amount), 0)::int8 AS total FROM acquirer_operations
          WHERE account_id = $1 AND kind = 'refund' AND result->>'authorization' = $2`,
        [req.accountId, req.authorization]);
      if (rows[0].total + req.amount > captured) throw new ProcessorRejected('refund exceeds captured amount');
    });
  }

  async lookup(accountId: string, downstreamKey: string): Promise<LedgerEntry | undefined> {
    const { rows } = await this.db.query<LedgerEntry>(
      `SELECT ${LEDGER_COLUMNS} FROM acquirer_operations WHERE account_id = $1 AND downstream_key = $2`, [accountId, downstreamKey]);
    return rows[0];
  }

  async ledger(accountId: string, reference?: string): Promise<LedgerEntry[]> {
    const { rows } = await this.db.query<LedgerEntry>(
      `SELECT ${LEDGER_COLUMNS} FROM acquirer_operations
        WHERE account_id = $1 AND ($2::text IS NULL OR reference = $2) ORDER BY seq`, [accountId, reference ?? null]);
    return rows;
  }

  private async followUp<O extends string>(
    req: FollowUpRequest, kind: 'capture' | 'void' | 'refund', outcome: O,
    check: (q: Queryable, auth: OperationRow & { amount: number }) => Promise<void>,
  ): Promise<{ outcome: O }> {
    return this.db.tx(async (q) => {
      const { rows } = await q.query<OperationRow & { amount: number }>(
        'SELECT kind, result, attempts, amount FROM acquirer_operations WHERE account_id = $1 AND downstream_key = $2 FOR UPDATE',
        [req.accountId, req.authorization]);
      if (!rows[0]) throw new ProcessorRejected(`unknown authorization ${req.authorization}`);
      // The authorization's row lock serializes follow-ups on it; a repeated key answers as before.
      const prior = await this.find(q, req.accountId, req.downstreamKey);
      if (prior) return (await this.record(q, { ...req, paymentMethod: '' }, kind, outcome, prior.result)).result;
      await check(q, rows[0]);
      return (await this.record(q, { ...req, paymentMethod: '' }, kind, outcome, { outcome, authorization: req.authorization })).result;
    });
  }

  private async find(q: Queryable, accountId: string, downstreamKey: string): Promise<OperationRow | undefined> {
    const { rows } = await q.query<OperationRow>(
      'SELECT kind, result, attempts FROM acquirer_operations WHERE account_id = $1 AND downstream_key = $2', [accountId, downstreamKey]);
    return rows[0];
  }

  private async hasFollowUp(q: Queryable, req: FollowUpRequest, kinds: string[]): Promise<boolean> {
    const { rows } = await q.query(
      `SELECT 1 FROM acquirer_operations WHERE account_id = $1 AND result->>'authorization' = $2 AND kind = ANY($3::text[]) LIMIT 1`,
      [req.accountId, req.authorization, kinds]);
    return rows.length > 0;
  }

  /**
   * Records an operation under its downstream key, or, when the key was seen before, counts
   * the attempt and returns the first answer unchanged: the acquirer's own idempotency.
   */
  private async record(
    q: Queryable, req: { accountId: string; downstreamKey: string; reference: string; paymentMethod: string; amount: number; currency: string },
    kind: LedgerEntry['kind'], outcome: string, result: unknown,
  ): Promise<{ result: any; attempts: number }> {
    const { rows } = await q.query<{ result: any; attempts: number }>(
      `INSERT INTO acquirer_operations (account_id, downstream_key, kind, reference, payment_method, amount, currency, outcome, result)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (account_id, downstream_key) DO UPDATE SET attempts = acquirer_operations.attempts + 1
       RETURNING result, attempts`,
      [req.accountId, req.downstreamKey, kind, req.reference, req.paymentMethod, req.amount, req.currency, outcome, JSON.stringify(result)]);
    return rows[0];
  }

  /** Fault card: refuse the first attempt for this key (committed, so the retry is let through). */
  private async refuseOnce(q: Queryable, accountId: string, downstreamKey: string): Promise<boolean> {
    const { rows } = await q.query<{ attempts: number }>(
      `INSERT INTO acquirer_refusals (account_id, downstream_key) VALUES ($1, $2)
       ON CONFLICT (account_id, downstream_key) DO UPDATE SET attempts = acquirer_refusals.attempts + 1
       RETURNING attempts`, [accountId, downstreamKey]);
    return rows[0].attempts === 1;
  }
}

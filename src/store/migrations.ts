/**
 * Plain, ordered SQL migrations. Every primary key and unique constraint leads with
 * account_id so the schema can be distributed by account.
 */
import type { Db } from './db.ts';

const objectTable = (name: string, extra = '') => `
CREATE TABLE ${name} (
  account_id text NOT NULL,
  id text NOT NULL,
  seq bigserial NOT NULL,
  created bigint NOT NULL,
  data json NOT NULL,${extra}
  PRIMARY KEY (account_id, id)
);
CREATE INDEX ${name}_list ON ${name} (account_id, seq DESC);`;

/**
 * Adds (sign '') or subtracts (sign '-') the balance transactions of `rows` to the running
 * balances (migration 11), per account and currency, into `slot`. Ordered, so two statements
 * lock the rows of one account in the same order.
 */
const addToBalances = (rows: string, sign: '' | '-', slot: string) => `
INSERT INTO balances AS b (account_id, currency, slot, available, pending, transactions)
SELECT account_id, data->>'currency', ${slot},
       ${sign}sum(CASE WHEN data->>'status' = 'pending' THEN 0 ELSE (data->>'net')::bigint END),
       ${sign}sum(CASE WHEN data->>'status' = 'pending' THEN (data->>'net')::bigint ELSE 0 END),
       ${sign}count(*)
  FROM ${rows} GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (account_id, currency, slot) DO UPDATE
  SET available = b.available + EXCLUDED.available, pending = b.pending + EXCLUDED.pending,
      transactions = b.transactions + EXCLUDED.transactions;`;

export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE accounts (
  id text PRIMARY KEY,
  created bigint NOT NULL
);
CREATE TABLE api_keys (
  account_id text NOT NULL REFERENCES accounts(id),
  key_hash text NOT NULL,
  key_hint text NOT NULL,
  created bigint NOT NULL,
  revoked_at bigint,
  PRIMARY KEY (account_id, key_hash)
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);

${objectTable('customers', `
  deleted boolean NOT NULL DEFAULT false,
  email text,`)}
CREATE INDEX customers_email ON customers (account_id, email, seq DESC);

${objectTable('payment_intents', `
  customer text,
  locked_by text,`)}
CREATE INDEX payment_intents_customer ON payment_intents (account_id, customer, seq DESC);

${objectTable('charges', `
  payment_intent text,
  customer text,`)}
CREATE INDEX charges_payment_intent ON charges (account_id, payment_intent, seq DESC);

${objectTable('refunds', `
  charge text NOT NULL,
  payment_intent text,`)}
CREATE INDEX refunds_charge ON refunds (account_id, charge, seq DESC);

${objectTable('balance_transactions', `
  source text NOT NULL,
  type text NOT NULL,`)}
CREATE UNIQUE INDEX balance_transactions_source ON balance_transactions (account_id, source);

-- Permanent business keys: one object per (account, resource, external_id), never expiring.
CREATE TABLE external_ids (
  account_id text NOT NULL,
  resource text NOT NULL,
  external_id text NOT NULL,
  object_id text NOT NULL,
  fingerprint text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, resource, external_id)
);

CREATE TABLE idempotency_keys (
  account_id text NOT NULL,
  key text NOT NULL,
  client_supplied boolean NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  command text NOT NULL,
  fingerprint text NOT NULL,
  params jsonb NOT NULL,
  request_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  locked_at timestamptz,
  lock_token text,
  recovery_point text NOT NULL DEFAULT 'started',
  journal jsonb NOT NULL DEFAULT '{}',
  response_status integer,
  response_body text,
  finished_at timestamptz,
  attempts integer NOT NULL DEFAULT 1,
  PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_unfinished ON idempotency_keys (updated_at) WHERE finished_at IS NULL;
CREATE INDEX idempotency_keys_finished ON idempotency_keys (finished_at) WHERE finished_at IS NOT NULL;

-- The test acquirer's own durable ledger: one row per downstream idempotency key.
CREATE TABLE acquirer_operations (
  account_id text NOT NULL,
  downstream_key text NOT NULL,
  seq bigserial NOT NULL,
  kind text NOT NULL,
  reference text NOT NULL,
  payment_method text NOT NULL,
  amount bigint NOT NULL,
  currency text NOT NULL,
  outcome text NOT NULL,
  result jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, downstream_key)
);
CREATE INDEX acquirer_operations_reference ON acquirer_operations (account_id, reference, seq);
-- Attempts that the acquirer refused before doing anything (fault cards), so a retry can behave differently.
CREATE TABLE acquirer_refusals (
  account_id text NOT NULL,
  downstream_key text NOT NULL,
  attempts integer NOT NULL DEFAULT 1,
  PRIMARY KEY (account_id, downstream_key)
);
`,
  },
  {
    version: 2,
    name: 'events_and_webhooks',
    sql: `
-- The transactional outbox: events are written in the same transaction as the change.
${objectTable('events', `
  type text NOT NULL,`)}
CREATE INDEX events_type ON events (account_id, type, seq DESC);

${objectTable('webhook_endpoints', `
  status text NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  enabled_events jsonb NOT NULL,
  secrets jsonb NOT NULL,
  failing_since timestamptz,`)}

-- One row per (event, endpoint): what must still be delivered, and when to try next.
CREATE TABLE webhook_deliveries (
  account_id text NOT NULL,
  event_id text NOT NULL,
  endpoint_id text NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

-- Delivery history: every attempt, its answer and what happens next.
CREATE TABLE webhook_attempts (
  account_id text NOT NULL,
  id text NOT NULL,
  seq bigserial NOT NULL,
  event_id text NOT NULL,
  endpoint_id text NOT NULL,
  created bigint NOT NULL,
  data json NOT NULL,
  PRIMARY KEY (account_id, id)
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (account_id, event_id, seq DESC);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (account_id, endpoint_id, seq DESC);
`,
  },
  {
    version: 3,
    name: 'request_logs',
    sql: `
-- Every API request: filters as columns, the rendered request_log in data. A command's row is
-- first written by its first phase (so a request whose effects committed always has one) and
-- completed by the batched log writer once the response is sent.
-- Listed by arrival (started_us), so no seq column and no seq index to maintain on this hot table.
CREATE TABLE request_logs (
  account_id text NOT NULL,
  id text NOT NULL,
  started_us bigint NOT NULL,
  created bigint NOT NULL,
  data json NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  status integer,
  outcome text NOT NULL,
  idempotency_key text,
  PRIMARY KEY (account_id, id)
);
CREATE INDEX request_logs_order ON request_logs (account_id, started_us DESC, id DESC);
CREATE INDEX request_logs_key ON request_logs (account_id, idempotency_key, started_us DESC) WHERE idempotency_key IS NOT NULL;
CREATE INDEX request_logs_created ON request_logs (created);

-- The events a request emitted, for idempotency key inspection ("which objects did it create").
CREATE INDEX events_request ON events (account_id, ((data->'request'->>'id')));
`,
  },
  {
    version: 4,
    name: 'billing',
    sql: `
-- Orders: a durable business record that payment intents and invoices pay.
${objectTable('orders', `
  customer text,
  status text NOT NULL,`)}
ALTER TABLE payment_intents ADD COLUMN order_id text;
CREATE INDEX payment_intents_order ON payment_intents (account_id, order_id) WHERE order_id IS NOT NULL;

-- Catalog.
${objectTable('products', `
  active boolean NOT NULL,
  deleted boolean NOT NULL DEFAULT false,`)}
${objectTable('prices', `
  product text NOT NULL,
  active boolean NOT NULL,
  type text NOT NULL,`)}
CREATE INDEX prices_product ON prices (account_id, product, seq DESC);

-- Test clocks, and the customers attached to them.
${objectTable('test_clocks', `
  status text NOT NULL,
  deleted boolean NOT NULL DEFAULT false,`)}
ALTER TABLE customers ADD COLUMN test_clock text;
CREATE INDEX customers_test_clock ON customers (account_id, test_clock) WHERE test_clock IS NOT NULL;

-- Invoices. number_seq is the per-account sequence number given at finalization: unique, and
-- drawn from invoice_counters inside the finalizing transaction, so a rollback leaves no gap.
${objectTable('invoices', `
  customer text NOT NULL,
  status text NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  subscription text,
  period_start bigint,
  order_id text,
  test_clock text,
  number_seq bigint,`)}
CREATE UNIQUE INDEX invoices_number ON invoices (account_id, number_seq) WHERE number_seq IS NOT NULL;
-- One invoice per subscription period, whoever bills it.
CREATE UNIQUE INDEX invoices_subscription_period ON invoices (account_id, subscription, period_start) WHERE subscription IS NOT NULL;
CREATE INDEX invoices_customer ON invoices (account_id, customer, seq DESC);
CREATE INDEX invoices_open ON invoices (test_clock) WHERE status IN ('draft', 'open');
CREATE TABLE invoice_counters (
  account_id text PRIMARY KEY,
  last_number bigint NOT NULL
);

${objectTable('invoiceitems', `
  customer text NOT NULL,
  invoice text,
  deleted boolean NOT NULL DEFAULT false,`)}
CREATE INDEX invoiceitems_invoice ON invoiceitems (account_id, invoice, seq);
CREATE INDEX invoiceitems_customer ON invoiceitems (account_id, customer, seq DESC);

-- The messages an invoice sent (send, reminders): an outbox, since there is no mail here.
${objectTable('invoice_messages', `
  invoice text NOT NULL,`)}
CREATE INDEX invoice_messages_invoice ON invoice_messages (account_id, invoice, seq DESC);
-- Each reminder of an invoice (by its offset from the due date) happens once: this key says so.
CREATE TABLE invoice_reminders (
  account_id text NOT NULL,
  invoice_id text NOT NULL,
  offset_seconds bigint NOT NULL,
  -- false: the reminder's time had passed before the invoice was finalized, so it was skipped.
  sent boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, invoice_id, offset_seconds)
);

${objectTable('subscriptions', `
  customer text NOT NULL,
  status text NOT NULL,
  test_clock text,
  current_period_end bigint NOT NULL,`)}
CREATE INDEX subscriptions_customer ON subscriptions (account_id, customer, seq DESC);
CREATE INDEX subscriptions_due ON subscriptions (current_period_end) WHERE status NOT IN ('canceled', 'incomplete_expired');
`,
  },
  {
    version: 5,
    name: 'webhook_delivery_leases',
    sql: `
-- A claim fences its delivery with a lease token: only the holder records an outcome, so a
-- process that lost its lease (paused, presumed dead) cannot overwrite what another recorded.
-- attempts counts the outcomes recorded (what the retry schedule spends); sent numbers the
-- attempts made, including those cut off by a crash.
ALTER TABLE webhook_deliveries ADD COLUMN lease_token text;
ALTER TABLE webhook_deliveries ADD COLUMN sent integer NOT NULL DEFAULT 0;
UPDATE webhook_deliveries SET sent = attempts;
-- An attempt is written when it is sent (pending) and completed with its outcome; one still
-- pending when its delivery is claimed again was cut off by a crash and becomes unknown.
ALTER TABLE webhook_attempts ADD COLUMN outcome text;
UPDATE webhook_attempts SET outcome = data->>'outcome';
CREATE INDEX webhook_attempts_pending ON webhook_attempts (account_id, event_id, endpoint_id) WHERE outcome = 'pending';
`,
  },
  {
    version: 6,
    name: 'external_id_claims',
    sql: `
-- The idempotency key of the request that claimed each external_id: while that key is
-- unfinished, a duplicate under another key is a transient 409 instead of a mid-flight snapshot.
-- Rows claimed earlier have none and count as settled.
ALTER TABLE external_ids ADD COLUMN idempotency_key text;
`,
  },
  {
    version: 7,
    name: 'webhook_delivery_order',
    sql: `
-- Deliveries of one object's events to one endpoint go out in the order the events were
-- created: a delivery is claimable only when no earlier one of the same object to the same
-- endpoint is still pending. seq numbers deliveries as they are written; the writes of one
-- object are serialized by its row lock, so seq follows the order of its events. Rows written
-- before this migration have no object_id and keep no order.
ALTER TABLE webhook_deliveries ADD COLUMN object_id text;
ALTER TABLE webhook_deliveries ADD COLUMN seq bigserial;
CREATE INDEX webhook_deliveries_object_queue ON webhook_deliveries (account_id, endpoint_id, object_id, seq) WHERE status = 'pending';
`,
  },
  {
    version: 8,
    name: 'invoice_payments',
    sql: `
-- The payments of invoices (Stripe's InvoicePayment since 2025-03-31): the payment intent that
-- pays each invoice, one at a time, replacing the invoice's former payment_intent field.
${objectTable('invoice_payments', `
  invoice text NOT NULL,
  payment_intent text NOT NULL,
  status text NOT NULL,`)}
CREATE INDEX invoice_payments_invoice ON invoice_payments (account_id, invoice, seq DESC);
CREATE UNIQUE INDEX invoice_payments_intent ON invoice_payments (account_id, payment_intent);
-- days_until_due is a term of a send_invoice draft (the due date is set from it at finalization),
-- no longer a field of the invoice object: it is kept beside it.
ALTER TABLE invoices ADD COLUMN days_until_due integer;
UPDATE invoices SET days_until_due = (data->>'days_until_due')::int WHERE data->>'days_until_due' IS NOT NULL;
-- Invoices finalized before: their intent (data->>'payment_intent') becomes their payment.
INSERT INTO invoice_payments (account_id, id, created, data, invoice, payment_intent, status)
SELECT i.account_id, 'inpay_' || substr(i.data->>'payment_intent', 4), (p.data->>'created')::bigint,
  json_build_object('id', 'inpay_' || substr(i.data->>'payment_intent', 4), 'object', 'invoice_payment',
    'amount_paid', CASE WHEN p.data->>'status' = 'succeeded' THEN (p.data->>'amount')::bigint END,
    'amount_requested', (p.data->>'amount')::bigint, 'created', (p.data->>'created')::bigint, 'currency', p.data->>'currency',
    'invoice', i.id, 'is_default', true, 'livemode', false,
    'payment', json_build_object('type', 'payment_intent', 'payment_intent', p.id),
    'status', CASE p.data->>'status' WHEN 'succeeded' THEN 'paid' WHEN 'canceled' THEN 'canceled' ELSE 'open' END,
    'status_transitions', json_build_object('canceled_at', (p.data->>'canceled_at')::bigint,
      'paid_at', CASE WHEN p.data->>'status' = 'succeeded' THEN (i.data->'status_transitions'->>'paid_at')::bigint END)),
  i.id, p.id, CASE p.data->>'status' WHEN 'succeeded' THEN 'paid' WHEN 'canceled' THEN 'canceled' ELSE 'open' END
FROM invoices i JOIN payment_intents p ON p.account_id = i.account_id AND p.id = i.data->>'payment_intent'
WHERE i.data->>'payment_intent' IS NOT NULL;
`,
  },
  {
    version: 9,
    name: 'tax_ids',
    sql: `
-- Tax IDs (src/payments/tax_ids.ts): a customer's (customer set) or the account's own
-- (owner_type self). Deleted ones are kept for their events' history and read as missing.
${objectTable('tax_ids', `
  customer text,
  owner_type text NOT NULL,
  deleted boolean NOT NULL DEFAULT false,`)}
CREATE INDEX tax_ids_customer ON tax_ids (account_id, customer, seq DESC) WHERE NOT deleted;
`,
  },
  {
    version: 10,
    name: 'deleted_prices',
    sql: `
-- Deleting a plan deletes its price (src/billing/plans.ts): kept for its events' history, read as missing.
ALTER TABLE prices ADD COLUMN deleted boolean NOT NULL DEFAULT false;
`,
  },
  {
    version: 11,
    name: 'running_balances',
    sql: `
-- GET /v1/balance reads these instead of summing every balance transaction
-- (src/payments/balance.ts). Statement-level triggers keep them in the statement that writes the
-- balance transactions, so a balance moves exactly when (and as often as) its rows commit. Each
-- (account, currency) is spread over up to 16 slots (the writing connection's pid modulo 16),
-- so concurrent captures of one account do not queue on one row; a read sums at most 16 rows.
CREATE TABLE balances (
  account_id text NOT NULL,
  currency text NOT NULL,
  slot int NOT NULL,
  available bigint NOT NULL DEFAULT 0,
  pending bigint NOT NULL DEFAULT 0,
  transactions bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, currency, slot)
);
CREATE FUNCTION balances_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    ${addToBalances('old_rows', '-', 'pg_backend_pid() % 16')}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    ${addToBalances('new_rows', '', 'pg_backend_pid() % 16')}
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER balances_insert AFTER INSERT ON balance_transactions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION balances_apply();
CREATE TRIGGER balances_delete AFTER DELETE ON balance_transactions
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION balances_apply();
CREATE TRIGGER balances_update AFTER UPDATE ON balance_transactions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION balances_apply();
-- Backfill: the balance transactions written before this migration, in slot 0.
${addToBalances('balance_transactions', '', '0')}
`,
  },
  {
    version: 12,
    name: 'key_kinds',
    sql: `
-- Key kinds (src/accounts/keys.ts): secret (sk_), restricted (rk_, with per-resource
-- permissions: {"customers": "read", ...}) and publishable (pk_). Publishable keys are public,
-- as on Stripe, so their hint is the whole key; every account gets one here, and new accounts
-- get theirs when they are created.
ALTER TABLE api_keys ADD COLUMN kind text NOT NULL DEFAULT 'secret';
ALTER TABLE api_keys ADD COLUMN permissions json;
INSERT INTO api_keys (account_id, key_hash, key_hint, created, kind)
SELECT id, encode(sha256(convert_to(pk, 'UTF8')), 'hex'), pk, created, 'publishable'
  FROM (SELECT id, created, 'pk_test_' || md5(random()::text || id) || substr(md5(id || random()::text), 1, 16) AS pk FROM accounts) a;
`,
  },
  {
    version: 13,
    name: 'payment_methods_setup_intents_tokens',
    sql: `
-- Saved cards (src/payments/payment_methods.ts): PaymentMethods (pm_) and legacy card sources
-- (card_) in one table, since a card source is also a PaymentMethod. card_ref is the test
-- acquirer's reference for the card (src/processor/card_numbers.ts): never the number.
-- set_up_for_off_session: a setup (or a payment that set the card up) authenticated it for later
-- off-session payments.
${objectTable('payment_methods', `
  customer text,
  type text NOT NULL,
  card_ref text NOT NULL,
  set_up_for_off_session boolean NOT NULL DEFAULT false,`)}
CREATE INDEX payment_methods_customer ON payment_methods (account_id, customer, seq DESC);
${objectTable('setup_intents', `
  customer text,
  payment_method text,
  locked_by text,`)}
CREATE INDEX setup_intents_customer ON setup_intents (account_id, customer, seq DESC);
-- Card tokens (tok_): single use; card_ref as for payment methods.
${objectTable('tokens', `
  card_ref text NOT NULL,
  used boolean NOT NULL DEFAULT false,`)}
`,
  },
  {
    version: 14,
    name: 'checkout_sessions',
    sql: `
-- Checkout Sessions (src/checkout/session_objects.ts). url_token: the hosted page's unguessable
-- token (unique across accounts: the page finds its session by it); line_items: the items, shown
-- only when asked for; progress: the attempt counter, the last card error, a pending 3-D Secure
-- step; settings: what the session's payment, subscription or setup is made with (payment_intent_data,
-- subscription_data); locked_by: the key of the completion in flight.
${objectTable('checkout_sessions', `
  status text NOT NULL,
  customer text,
  payment_intent text,
  subscription text,
  customer_email text,
  url_token text NOT NULL,
  line_items json NOT NULL,
  progress json NOT NULL,
  settings json NOT NULL,
  locked_by text,
  expires_at bigint NOT NULL,`)}
CREATE UNIQUE INDEX checkout_sessions_url_token ON checkout_sessions (url_token);
CREATE INDEX checkout_sessions_due ON checkout_sessions (expires_at) WHERE status = 'open';
`,
  },
  {
    version: 15,
    name: 'billing_portal',
    sql: `
-- The customer portal (src/portal/portal_objects.ts). Configurations: active and is_default are
-- the list's filters; an account has at most one default. Sessions: url_token is the portal
-- page's unguessable token (unique across accounts: the page finds its session by it), expires_at
-- when its URL stops working.
${objectTable('billing_portal_configurations', `
  active boolean NOT NULL,
  is_default boolean NOT NULL,`)}
CREATE UNIQUE INDEX billing_portal_configurations_default ON billing_portal_configurations (account_id) WHERE is_default;
${objectTable('billing_portal_sessions', `
  customer text NOT NULL,
  configuration text NOT NULL,
  url_token text NOT NULL,
  expires_at bigint NOT NULL,`)}
CREATE UNIQUE INDEX billing_portal_sessions_url_token ON billing_portal_sessions (url_token);
`,
  },
  {
    version: 16,
    name: 'hosted_invoice_pages',
    sql: `
-- The hosted invoice page (src/web/invoice_page.ts): url_token is its unguessable token, given
-- when the invoice is finalized (null while a draft), unique across accounts: the page and the
-- PDF find their invoice by it alone.
ALTER TABLE invoices ADD COLUMN url_token text;
CREATE UNIQUE INDEX invoices_url_token ON invoices (url_token);
`,
  },
];

const MIGRATION_LOCK = 7_204_551;

export async function migrate(db: Db): Promise<number[]> {
  return db.tx(async (q) => {
    // Several processes may start at once against one PostgreSQL: serialize them.
    await q.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await q.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await q.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    const ran: number[] = [];
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await q.exec(m.sql);
      await q.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      ran.push(m.version);
    }
    return ran;
  });
}

export async function pendingMigrations(db: Db): Promise<number> {
  const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
  const applied = new Set(rows.map((r) => r.version));
  return MIGRATIONS.filter((m) => !applied.has(m.version)).length;
}

/**
 * The test payment methods section of the OpenAPI document's description, generated from the
 * processor's table (src/processor/cards.ts): every `pm_card_*` id with its card and what a
 * payment with it does, the fault cards included; and Stripe's test numbers, which pay the same.
 */
import { NUMBER_ONLY_CARDS, refOfNumber, TEST_CARDS, type CardBehaviour, type TestCard } from '../../processor/cards.ts';
import type { Decline } from '../../processor/types.ts';

const declined = (d: Decline): string =>
  `402 \`card_error\` \`${d.code}\`${d.decline_code && d.decline_code !== d.code ? ` / \`${d.decline_code}\`` : ''}` +
  (d.blocked ? ' (blocked by Radar, not sent to the network)' : '');

/** What a payment with a card of this behaviour does. */
export function behaviourText(b: CardBehaviour): string {
  switch (b.kind) {
    case 'approve': return 'succeeds';
    case 'decline': return declined(b);
    case 'authentication_required':
      return `\`requires_action\` (3-D Secure); confirmed again, ${b.then ? declined(b.then) : 'succeeds'}`;
    case 'timeout_after_charge':
      return 'fault card: the acquirer charges but its answer is lost (500 `api_error`, safe to retry); the retry or the completer ends it `succeeded`, charged once';
    case 'error_before_charge':
      return 'fault card: the acquirer fails with a 5xx before charging (500 `api_error`, safe to retry); the retry succeeds';
    case 'slow':
      return `fault card: the acquirer approves after ${b.ms / 1000} s (rehearse client timeouts, 409 \`idempotency_key_in_use\` while it runs, graceful shutdown)`;
  }
}

/** What the charge reports besides the outcome: a risk level or a failed check. */
function reported(t: TestCard): string {
  const notes: string[] = [];
  if (t.card.risk_level !== 'normal') notes.push(`risk level ${t.card.risk_level}`);
  for (const [check, result] of Object.entries(t.card.checks)) {
    if (result !== null && result !== 'pass') notes.push(`${check} ${result}`);
  }
  return notes.length > 0 ? `; the charge reports ${notes.join(', ')}` : '';
}

const cardText = (t: TestCard): string =>
  `${t.card.brand} ${t.card.funding}${t.card.network !== t.card.brand ? ` (${t.card.network.replace(/_/g, ' ')})` : ''}, ${t.card.country}, •••• ${t.card.last4}`;

/** A test card's number as a client types it (groups of four), or how to reach a card that has none of its own. */
function numberText(id: string, t: TestCard): string {
  const owner = refOfNumber(t.number);
  if (!owner) return '— (by its id only)';
  if (owner !== id) return `same as \`${owner}\``;
  return `\`${t.number.replace(/(\d{4})(?=\d)/g, '$1 ')}\``;
}

/** Markdown: a table of every test payment method, fault cards last, with the number that pays the same. */
export function testCardsMarkdown(): string {
  const fault = (b: CardBehaviour) => b.kind === 'timeout_after_charge' || b.kind === 'error_before_charge' || b.kind === 'slow';
  const entries = Object.entries(TEST_CARDS);
  const rows = [...entries.filter(([, t]) => !fault(t.behaviour)), ...entries.filter(([, t]) => fault(t.behaviour))]
    .map(([id, t]) => `| \`${id}\` | ${numberText(id, t)} | ${cardText(t)} | ${behaviourText(t.behaviour)}${reported(t)} |`);
  const numberOnly = Object.values(NUMBER_ONLY_CARDS).map((t) => `| — | \`${t.number.replace(/(\d{4})(?=\d)/g, '$1 ')}\` | ${cardText(t)} | ${behaviourText(t.behaviour)} |`);
  return [
    '## Test payment methods',
    '',
    `Pass one of these ${entries.length} ids as \`payment_method\` (Stripe's documented \`pm_card_*\` set, and Oncepay's fault cards for retry drills),`,
    'or create a payment method (or a token, or a customer source) from its number with any future expiry and any CVC (four digits on an',
    'American Express). `tok_<name>` is the token of `pm_card_<name>`. Any other well-formed number is declined as a live card',
    '(`test_mode_live_card`), as in Stripe\'s test mode.',
    '',
    '| payment method | number | card | a payment with it |',
    '|---|---|---|---|',
    ...rows,
    ...numberOnly,
  ].join('\n');
}

/**
 * Names no other test run uses (idempotency keys, external ids, product names): a label, this
 * process's id, the time and a counter.
 *
 * Without long digit runs: a run of 13 to 19 digits that passes the Luhn check is masked like a
 * card number in request logs and errors, so the time is in base 36 and the parts are lettered.
 */
let n = 0;

export const uniqueKey = (label: string): string => `${label}-p${process.pid}t${Date.now().toString(36)}n${n++}`;

/**
 * Money is an integer count of a currency's minor unit. The exponent says how many minor
 * units make a major one (ISO 4217): JPY 0, USD 2, KWD 3. Never floats.
 */
const ZERO_DECIMAL = ['bif', 'clp', 'djf', 'gnf', 'isk', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf'];
const THREE_DECIMAL = ['bhd', 'iqd', 'jod', 'kwd', 'lyd', 'omr', 'tnd'];
const TWO_DECIMAL = (
  'aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bmd bnd bob brl bsd btn bwp byn bzd cad cdf chf cny cop crc ' +
  'cup cve czk dkk dop dzd egp ern etb eur fjd fkp gbp gel ghs gip gmd gtq gyd hkd hnl htg huf idr ils inr irr jmd kes ' +
  'kgs khr kpw kyd kzt lak lbp lkr lrd lsl mad mdl mkd mmk mnt mop mru mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd ' +
  'pab pen pgk php pkr pln qar ron rsd rub sar sbd scr sdg sek sgd shp sle sll sos srd ssp stn svc syp szl thb tjs tmt ' +
  'top try ttd twd tzs uah usd uyu uzs ves wst xcd yer zar zmw zwl'
).split(' ');

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...ZERO_DECIMAL.map((c) => [c, 0] as const),
  ...TWO_DECIMAL.map((c) => [c, 2] as const),
  ...THREE_DECIMAL.map((c) => [c, 3] as const),
]);

/** Largest amount accepted for any single payment or refund, in minor units (Stripe's limit). */
export const MAX_AMOUNT = 99_999_999;

export function currencyExponent(currency: string): number | undefined {
  return EXPONENTS.get(currency.toLowerCase());
}

export function isSupportedCurrency(currency: string): boolean {
  return EXPONENTS.has(currency.toLowerCase());
}

export const supportedCurrencies = (): string[] => [...EXPONENTS.keys()].sort();

/** "12.34 usd" style text for messages: exact, from integers only. */
export function formatAmount(amount: number, currency: string): string {
  const exp = currencyExponent(currency) ?? 2;
  if (exp === 0) return `${amount} ${currency}`;
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount).toString().padStart(exp + 1, '0');
  return `${sign}${abs.slice(0, -exp)}.${abs.slice(-exp)} ${currency}`;
}

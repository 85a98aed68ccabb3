/**
 * The tax ID types Stripe documents (the `type` union of TaxIdCreateParams in the stripe package,
 * 2026-10-28.endive), each with its country, the example Stripe's "Supported tax ID types" table
 * gives, and the format Oncepay checks a value against: a pattern derived from that example and
 * the identifier's official format (separators the official format writes are optional). Stripe
 * checks the format at creation and answers 400 `tax_id_invalid` ("Invalid value for eu_vat.",
 * param `value`) for a value that does not fit; so does Oncepay.
 *
 * `example: null`: the type is in the package's union but was not in the table Oncepay's authors
 * had (types added later); its pattern follows the identifier's official format alone.
 *
 * Values are checked case-insensitively (stored as given). European VAT numbers are checked per
 * country prefix (EL is Greece, XI Northern Ireland: country GR and GB).
 */

export interface TaxIdFormat {
  type: string;
  /** ISO 3166-1 alpha-2, as the object's `country` renders (EU for the One Stop Shop scheme). */
  country: string;
  example: string | null;
  pattern: RegExp;
}

/** [type, country, documented example, pattern]. */
const TABLE: [string, string, string | null, RegExp][] = [
  ['ad_nrt', 'AD', 'A-123456-Z', /^[A-Z]-?\d{6}-?[A-Z]$/],
  ['ae_trn', 'AE', '123456789012345', /^\d{15}$/],
  ['al_tin', 'AL', 'J12345678N', /^[A-Z]\d{8}[A-Z]$/],
  ['am_tin', 'AM', '02538904', /^\d{8}$/],
  ['ao_tin', 'AO', '5123456789', /^\d{10}$/],
  ['ar_cuit', 'AR', '12-3456789-01', /^(\d{2}-?\d{7}-?\d{2}|\d{2}-?\d{8}-?\d)$/],
  ['au_abn', 'AU', '12345678912', /^\d{2} ?\d{3} ?\d{3} ?\d{3}$/],
  ['au_acn', 'AU', null, /^\d{3} ?\d{3} ?\d{3}$/],
  ['au_arn', 'AU', '123456789123', /^\d{12}$/],
  ['au_wpn', 'AU', null, /^\d{2} ?\d{3} ?\d{3} ?\d{3}$/],
  ['aw_tin', 'AW', '12345678', /^\d{8}$/],
  ['az_tin', 'AZ', '0123456789', /^\d{10}$/],
  ['ba_tin', 'BA', '123456789012', /^\d{12}$/],
  ['bb_tin', 'BB', '1123456789012', /^\d{13}$/],
  ['bd_bin', 'BD', '123456789-0123', /^\d{9}-?\d{4}$/],
  ['bf_ifu', 'BF', '12345678A', /^\d{8}[A-Z]$/],
  ['bg_uic', 'BG', '123456789', /^\d{9}(\d{4})?$/],
  ['bh_vat', 'BH', '123456789012345', /^\d{15}$/],
  ['bj_ifu', 'BJ', '1234567890123', /^\d{13}$/],
  ['bo_tin', 'BO', '123456789', /^\d{7,12}$/],
  ['br_cnpj', 'BR', '01.234.456/5432-10', /^\d{2}\.?\d{3}\.?\d{3}\/?\d{4}-?\d{2}$/],
  ['br_cpf', 'BR', '123.456.789-87', /^\d{3}\.?\d{3}\.?\d{3}-?\d{2}$/],
  ['bs_tin', 'BS', '123.456.789', /^\d{3}\.?\d{3}\.?\d{3}$/],
  ['bw_vat', 'BW', null, /^[A-Z]?\d{9,12}$/],
  ['by_tin', 'BY', '123456789', /^\d{9}$/],
  ['ca_bn', 'CA', '123456789', /^\d{9}$/],
  ['ca_gst_hst', 'CA', '123456789RT0002', /^\d{9} ?RT ?\d{4}$/],
  ['ca_pst_bc', 'CA', 'PST-1234-5678', /^PST-?\d{4}-?\d{4}$/],
  ['ca_pst_mb', 'CA', '123456-7', /^\d{6}-?\d$/],
  ['ca_pst_sk', 'CA', '1234567', /^\d{7}$/],
  ['ca_qst', 'CA', '1234567890TQ1234', /^\d{10} ?TQ ?\d{4}$/],
  ['cd_nif', 'CD', 'A0123456M', /^[A-Z]\d{7}[A-Z]$/],
  ['ch_uid', 'CH', 'CHE-123.456.789 HR', /^CHE-?\d{3}\.?\d{3}\.?\d{3} ?HR$/],
  ['ch_vat', 'CH', 'CHE-123.456.789 MWST', /^CHE-?\d{3}\.?\d{3}\.?\d{3} ?(MWST|TVA|IVA)$/],
  ['ci_vat', 'CI', null, /^\d{7}[A-Z]$/],
  ['cl_tin', 'CL', '12.345.678-K', /^\d{1,2}\.?\d{3}\.?\d{3}-?[\dK]$/],
  ['cm_niu', 'CM', 'M123456789000L', /^[A-Z]\d{12}[A-Z]$/],
  ['cn_tin', 'CN', '123456789012345678', /^([0-9A-Z]{18}|\d{15})$/],
  ['co_nit', 'CO', '123.456.789-0', /^\d{3}\.?\d{3}\.?\d{3}-?\d$/],
  ['cr_tin', 'CR', '1-234-567890', /^(\d-?\d{3}-?\d{6}|\d{9,12})$/],
  ['cv_nif', 'CV', '213456789', /^\d{9}$/],
  ['cz_dic', 'CZ', null, /^(CZ)?\d{8,10}$/],
  ['de_stn', 'DE', '1234567890', /^(\d{10,13}|\d{2,3}\/\d{3,4}\/\d{4,5})$/],
  ['do_rcn', 'DO', '123-4567890-1', /^(\d{3}-?\d{7}-?\d|\d-?\d{2}-?\d{5}-?\d)$/],
  ['ec_ruc', 'EC', '1234567890001', /^\d{13}$/],
  ['eg_tin', 'EG', '123456789', /^\d{9}$/],
  ['es_cif', 'ES', 'A12345678', /^([A-Z]\d{7}[A-Z0-9]|\d{8}[A-Z]|[XYZ]\d{7}[A-Z])$/],
  ['et_tin', 'ET', '1234567890', /^\d{10}$/],
  ['eu_oss_vat', 'EU', 'EU123456789', /^EU\d{9}$/],
  // eu_vat: the country's prefix decides (EU_VAT below); this pattern only says "a prefix and a body".
  ['eu_vat', '', 'DE123456789', /^[A-Z]{2}[0-9A-Z+*]{2,13}$/],
  ['fo_vat', 'FO', 'FO123456', /^(FO)?\d{6}$/],
  ['fr_siren', 'FR', null, /^\d{3} ?\d{3} ?\d{3}$/],
  ['fr_siret', 'FR', null, /^\d{3} ?\d{3} ?\d{3} ?\d{5}$/],
  ['fr_spi', 'FR', null, /^[0-3]\d{12}$/],
  ['gb_vat', 'GB', 'GB123456789', /^GB(\d{9}|\d{12}|GD\d{3}|HA\d{3})$/],
  ['ge_vat', 'GE', '123456789', /^\d{9}(\d{2})?$/],
  ['gh_tin', 'GH', null, /^[PCGQV]\d{10}$/],
  ['gi_tin', 'GI', '12345', /^\d{5}$/],
  ['gn_nif', 'GN', '123456789', /^\d{9}$/],
  ['hk_br', 'HK', '12345678', /^\d{8}$/],
  ['hr_oib', 'HR', '12345678901', /^\d{11}$/],
  ['hu_tin', 'HU', '12345678-1-23', /^\d{8}-?\d-?\d{2}$/],
  ['ic_nif', 'IC', null, /^([A-Z]\d{7}[A-Z0-9]|\d{8}[A-Z]|[XYZ]\d{7}[A-Z])$/],
  ['id_npwp', 'ID', '012.345.678.9-012.345', /^\d{2,3}\.?\d{3}\.?\d{3}\.?\d-?\d{3}\.?\d{3}$/],
  ['il_vat', 'IL', '000012345', /^\d{9}$/],
  ['in_gst', 'IN', '12ABCDE3456FGZH', /^\d{2}[A-Z]{5}\d{4}[A-Z][0-9A-Z]Z[0-9A-Z]$/],
  ['is_kt', 'IS', null, /^\d{6}-?\d{4}$/],
  ['is_vat', 'IS', '123456', /^\d{5,6}$/],
  ['it_cf', 'IT', 'ABCDEF12A12A123A', /^([A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]|\d{11})$/],
  ['jp_cn', 'JP', '1234567891234', /^\d{13}$/],
  ['jp_rn', 'JP', '12345', /^\d{5}$/],
  ['jp_trn', 'JP', 'T1234567891234', /^T\d{13}$/],
  ['ke_pin', 'KE', 'P000111111A', /^[AP]\d{9}[A-Z]$/],
  ['kg_tin', 'KG', '12345678901234', /^\d{14}$/],
  ['kh_tin', 'KH', '1001-123456789', /^\d{4}-?\d{9}$/],
  ['kr_brn', 'KR', '123-45-67890', /^\d{3}-?\d{2}-?\d{5}$/],
  ['kz_bin', 'KZ', '123456789012', /^\d{12}$/],
  ['la_tin', 'LA', '123456789-000', /^\d{9}-?\d{3}$/],
  ['li_uid', 'LI', 'CHE123456789', /^CHE-?\d{3}\.?\d{3}\.?\d{3}$/],
  ['li_vat', 'LI', '12345', /^\d{5}$/],
  ['lk_vat', 'LK', '123456789-1234', /^\d{9}-?\d{4}$/],
  ['ma_vat', 'MA', '12345678', /^\d{8}$/],
  ['md_cf', 'MD', null, /^\d{13}$/],
  ['md_vat', 'MD', '1234567', /^\d{7}$/],
  ['me_pib', 'ME', '12345678', /^\d{8}$/],
  ['mk_vat', 'MK', 'MK1234567890123', /^MK\d{13}$/],
  ['mr_nif', 'MR', '12345678', /^\d{8}$/],
  ['mu_vat', 'MU', null, /^\d{8}$/],
  ['mx_rfc', 'MX', 'ABC010203AB9', /^[A-Z&Ñ]{3,4}\d{6}[A-Z0-9]{3}$/],
  ['my_frp', 'MY', '12345678', /^\d{8}$/],
  ['my_itn', 'MY', 'C 1234567890', /^[A-Z]{1,2} ?\d{10,11}$/],
  ['my_sst', 'MY', 'A12-3456-78912345', /^[A-Z]\d{2}-?\d{4}-?\d{8}$/],
  ['mz_nuit', 'MZ', null, /^\d{9}$/],
  ['ng_tin', 'NG', '12345678-0001', /^\d{8}-?\d{4}$/],
  ['no_vat', 'NO', '123456789MVA', /^(NO)?\d{9} ?MVA$/],
  ['no_voec', 'NO', '1234567', /^\d{7}$/],
  ['np_pan', 'NP', '123456789', /^\d{9}$/],
  ['nz_bn', 'NZ', null, /^94290\d{8}$/],
  ['nz_gst', 'NZ', '123456789', /^\d{2,3}-?\d{3}-?\d{3}$/],
  ['om_vat', 'OM', 'OM1234567890', /^OM\d{10}$/],
  ['pe_ruc', 'PE', '12345678901', /^\d{11}$/],
  ['ph_tin', 'PH', '123456789012', /^\d{3}-?\d{3}-?\d{3}(-?\d{3}|-?\d{5})?$/],
  ['pl_nip', 'PL', '1234567890', /^\d{3}-?\d{3}-?\d{2}-?\d{2}$/],
  ['pt_nif', 'PT', null, /^\d{9}$/],
  ['py_ruc', 'PY', '12345678A', /^\d{6,8}-?[0-9A-Z]$/],
  ['ro_tin', 'RO', '1234567890123', /^\d{13}$/],
  ['rs_pib', 'RS', '123456789', /^\d{9}$/],
  ['ru_inn', 'RU', '1234567891', /^(\d{10}|\d{12})$/],
  ['ru_kpp', 'RU', '123456789', /^\d{4}[0-9A-Z]{2}\d{3}$/],
  ['sa_vat', 'SA', '123456789012345', /^\d{15}$/],
  ['sg_gst', 'SG', 'M12345678X', /^([A-Z]\d{8}[A-Z]|\d{8,9}[A-Z]|[ST]\d{2}[A-Z]{2}\d{4}[A-Z])$/],
  ['sg_uen', 'SG', '123456789F', /^(\d{8,9}[A-Z]|[ST]\d{2}[A-Z]{2}\d{4}[A-Z])$/],
  ['si_tin', 'SI', '12345678', /^\d{8}$/],
  ['sm_coe', 'SM', null, /^\d{5}$/],
  ['sn_ninea', 'SN', '12345672A2', /^\d{7}([0-9A-Z]{3})?$/],
  ['sr_fin', 'SR', '1234567890', /^\d{10}$/],
  ['sv_nit', 'SV', '1234-567890-123-4', /^\d{4}-?\d{6}-?\d{3}-?\d$/],
  ['th_vat', 'TH', '1234567891234', /^\d{13}$/],
  ['tj_tin', 'TJ', '123456789', /^\d{9}$/],
  ['tr_tin', 'TR', '0123456789', /^\d{10}$/],
  ['tt_bir', 'TT', null, /^\d{9,10}$/],
  ['tt_vat', 'TT', null, /^\d{6,10}$/],
  ['tw_vat', 'TW', '12345678', /^\d{8}$/],
  ['tz_vat', 'TZ', '12345678A', /^\d{2}-?\d{6}-?[A-Z]$/],
  ['ua_vat', 'UA', '123456789', /^(\d{9,10}|\d{12})$/],
  ['ug_tin', 'UG', '1014751879', /^\d{10}$/],
  ['us_ein', 'US', '12-3456789', /^\d{2}-?\d{7}$/],
  ['uy_ruc', 'UY', '123456789012', /^\d{12}$/],
  ['uz_tin', 'UZ', '123456789', /^\d{9}$/],
  ['uz_vat', 'UZ', '123456789012', /^\d{12}$/],
  ['ve_rif', 'VE', 'A-12345678-9', /^[A-Z]-?\d{8}-?\d$/],
  ['vn_tin', 'VN', '1234567890', /^\d{10}(-?\d{3})?$/],
  ['za_vat', 'ZA', '4123456789', /^4\d{9}$/],
  ['zm_tin', 'ZM', '1004751879', /^\d{10}$/],
  ['zw_tin', 'ZW', '1234567890', /^\d{10}$/],
];

/** European VAT numbers: the body after each prefix, from the documented examples and the VIES formats. */
const EU_VAT: Record<string, { country: string; body: RegExp; example: string }> = {
  AT: { country: 'AT', body: /^U\d{8}$/, example: 'ATU12345678' },
  BE: { country: 'BE', body: /^[01]\d{9}$/, example: 'BE0123456789' },
  BG: { country: 'BG', body: /^\d{9,10}$/, example: 'BG0123456789' },
  CY: { country: 'CY', body: /^\d{8}[A-Z]$/, example: 'CY12345678Z' },
  CZ: { country: 'CZ', body: /^\d{8,10}$/, example: 'CZ1234567890' },
  DE: { country: 'DE', body: /^\d{9}$/, example: 'DE123456789' },
  DK: { country: 'DK', body: /^\d{8}$/, example: 'DK12345678' },
  EE: { country: 'EE', body: /^\d{9}$/, example: 'EE123456789' },
  EL: { country: 'GR', body: /^\d{9}$/, example: 'EL123456789' },
  ES: { country: 'ES', body: /^[0-9A-Z]\d{7}[0-9A-Z]$/, example: 'ESA1234567Z' },
  FI: { country: 'FI', body: /^\d{8}$/, example: 'FI12345678' },
  FR: { country: 'FR', body: /^[0-9A-Z]{2}\d{9}$/, example: 'FRAB123456789' },
  HR: { country: 'HR', body: /^\d{11}$/, example: 'HR12345678912' },
  HU: { country: 'HU', body: /^\d{8}$/, example: 'HU12345678' },
  IE: { country: 'IE', body: /^(\d{7}[A-W][A-IW]?|\d[A-Z+*]\d{5}[A-W])$/, example: 'IE1234567AB' },
  IT: { country: 'IT', body: /^\d{11}$/, example: 'IT12345678912' },
  LT: { country: 'LT', body: /^(\d{9}|\d{12})$/, example: 'LT123456789123' },
  LU: { country: 'LU', body: /^\d{8}$/, example: 'LU12345678' },
  LV: { country: 'LV', body: /^\d{11}$/, example: 'LV12345678912' },
  MT: { country: 'MT', body: /^\d{8}$/, example: 'MT12345678' },
  NL: { country: 'NL', body: /^\d{9}B\d{2}$/, example: 'NL123456789B12' },
  PL: { country: 'PL', body: /^\d{10}$/, example: 'PL1234567890' },
  PT: { country: 'PT', body: /^\d{9}$/, example: 'PT123456789' },
  RO: { country: 'RO', body: /^\d{2,10}$/, example: 'RO1234567891' },
  SE: { country: 'SE', body: /^\d{12}$/, example: 'SE123456789123' },
  SI: { country: 'SI', body: /^\d{8}$/, example: 'SI12345678' },
  SK: { country: 'SK', body: /^\d{10}$/, example: 'SK1234567891' },
  XI: { country: 'GB', body: /^(\d{9}|\d{12}|GD\d{3}|HA\d{3})$/, example: 'XI123456789' },
};

export const TAX_ID_FORMATS: readonly TaxIdFormat[] = TABLE.map(([type, country, example, pattern]) => ({ type, country, example, pattern }));

/** Every type a tax ID may be created with (Stripe's `unknown` is only ever read, on legacy ids). */
export const TAX_ID_TYPES: readonly string[] = TAX_ID_FORMATS.map((f) => f.type);

/** The documented eu_vat examples, one per prefix (for tests). */
export const EU_VAT_EXAMPLES: readonly string[] = Object.values(EU_VAT).map((e) => e.example);

const BY_TYPE = new Map(TAX_ID_FORMATS.map((f) => [f.type, f]));

/** The country of a well-formed value of `type`, or null when the value does not have the type's format. */
export function taxIdCountry(type: string, value: string): string | null {
  const f = BY_TYPE.get(type);
  if (!f) return null;
  const v = value.trim().toUpperCase();
  if (!f.pattern.test(v)) return null;
  if (type !== 'eu_vat') return f.country;
  const eu = EU_VAT[v.slice(0, 2)];
  return eu && eu.body.test(v.slice(2)) ? eu.country : null;
}

/**
 * The types whose numbers Stripe validates asynchronously against the tax authority (its
 * "Validation" section names ABN with the ABR, EU VAT with VIES, GB VAT with HMRC): their
 * verification starts `pending`; every other type's is `unavailable`.
 */
export const VERIFIED_TYPES: ReadonlySet<string> = new Set(['au_abn', 'eu_vat', 'gb_vat']);

export type VerificationStatus = 'pending' | 'unavailable' | 'unverified' | 'verified';

/**
 * What test mode's asynchronous verification concludes for a value of a verified type. Stripe's
 * testing values: a number containing 000000000 verifies, 111111111 fails, 222222222 stays
 * pending. Any other well-formed number verifies (Oncepay's choice: test mode has no authority
 * to ask, and an integration's happy path should see `verified`).
 */
export function testModeVerification(value: string): Exclude<VerificationStatus, 'unavailable'> {
  if (value.includes('111111111')) return 'unverified';
  if (value.includes('222222222')) return 'pending';
  return 'verified';
}

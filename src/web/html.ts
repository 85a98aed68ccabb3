/**
 * HTML for the hosted pages: a tagged template that escapes every interpolated value (so a
 * merchant's product name or a customer's typed email can never become markup), and the one
 * layout every page shares. No script: the pages are plain forms that work without JavaScript.
 */

/** Markup that is already safe (made by `html`): interpolated as is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string { return this.text; }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

type Value = Html | string | number | boolean | null | undefined | Value[];

function piece(v: Value): string {
  if (v === null || v === undefined || v === false || v === true) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(piece).join('');
  return escapeHtml(String(v));
}

/** `html\`<p>${text}</p>\``: strings and numbers escaped, Html and arrays of it kept, null/undefined/booleans dropped. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => { out += piece(v) + strings[i + 1]!; });
  return new Html(out);
}

export const STYLESHEET_PATH = '/assets/oncepay.css';

/** A whole page: title, the shared stylesheet, the body. */
export function layout(title: string, body: Html, opts: { aside?: Html } = {}): string {
  return `<!doctype html>${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title}</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<div class="frame${opts.aside ? ' split' : ''}">
${opts.aside ? html`<aside class="summary">${opts.aside}</aside>` : ''}
<main>${body}</main>
</div>
<footer>Test mode · Oncepay</footer>
</body>
</html>`.text}`;
}

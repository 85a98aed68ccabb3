/**
 * An invoice as a PDF (its invoice_pdf URL: the hosted page's URL followed by /pdf), made with
 * pdfkit and streamed as it is drawn: the number and dates, who it is from and who it bills, the
 * lines with their amounts, subtotal, total, amount paid and amount due, and where it stands.
 *
 * One A4 page of the standard Helvetica font (nothing embedded: a few kilobytes). Its streams are
 * not compressed: an invoice's page is a few hundred bytes of drawing, which deflate would save
 * little of, and uncompressed the document can be read by anything that checks it (a test, a
 * person with `less`) without inflating it first. pdfkit writes the standard fonts' text as hex
 * strings; the document's Title names the invoice number in plain text too.
 */
import PDFDocument from 'pdfkit';
import type { Invoice } from '../billing/billing_objects.ts';
import { money } from './page_kit.ts';

/** A timestamp as a date, as Stripe's invoices print it: December 3, 2026 (UTC). */
export const invoiceDate = (t: number | null): string =>
  t === null ? '—' : new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(t * 1000));

/** Where the invoice stands, in words (the page and the PDF say the same). */
export function invoiceStanding(inv: Invoice): string {
  switch (inv.status) {
    case 'paid': return `Paid ${invoiceDate(inv.status_transitions.paid_at)}`;
    case 'void': return `Void since ${invoiceDate(inv.status_transitions.voided_at)}`;
    case 'uncollectible': return `Uncollectible since ${invoiceDate(inv.status_transitions.marked_uncollectible_at)}`;
    case 'open': return inv.due_date ? `Due ${invoiceDate(inv.due_date)}` : 'Open';
    default: return 'Draft';
  }
}

/** What the invoice is from: the account's name when it has one. */
export const invoiceIssuer = (inv: Invoice): string => inv.account_name ?? 'Oncepay';

const LEFT = 50;
const RIGHT = 545;
const COLUMNS = { description: LEFT, qty: 330, unit: 380, amount: 465 } as const;

const BOTTOM = 841.89 - 50; // A4's height less the margin

/** `y`, or the top of a new page when `height` more would not fit on this one (a long invoice goes on). */
function roomFor(doc: PDFKit.PDFDocument, y: number, height: number): number {
  if (y + height <= BOTTOM) return y;
  doc.addPage();
  return LEFT;
}

/** The PDF of an invoice: a readable stream, ended once drawn. */
export function invoicePdf(inv: Invoice): PDFKit.PDFDocument {
  const number = inv.number ?? inv.id;
  const doc = new PDFDocument({
    size: 'A4', margin: LEFT, compress: false,
    info: { Title: `Invoice ${number}`, Author: invoiceIssuer(inv), Subject: `Invoice ${number}`, Creator: 'Oncepay', Producer: 'Oncepay' },
  });
  const cur = inv.currency;
  const m = (amount: number) => money(amount, cur);

  doc.font('Helvetica-Bold').fontSize(22).text('Invoice', LEFT, 50);
  doc.font('Helvetica').fontSize(10);
  const facts: [string, string][] = [
    ['Invoice number', number],
    ['Date of issue', invoiceDate(inv.status_transitions.finalized_at ?? inv.created)],
    ['Date due', invoiceDate(inv.due_date ?? inv.status_transitions.finalized_at ?? inv.created)],
    ['Status', invoiceStanding(inv)],
  ];
  let y = 90;
  for (const [label, value] of facts) {
    doc.font('Helvetica-Bold').text(label, LEFT, y, { width: 110 });
    doc.font('Helvetica').text(value, LEFT + 110, y, { width: 250 });
    y += 15;
  }

  y += 20;
  doc.font('Helvetica-Bold').text('From', LEFT, y).text('Bill to', 300, y);
  doc.font('Helvetica');
  doc.text(invoiceIssuer(inv), LEFT, y + 15, { width: 230 });
  doc.text([inv.customer_name, inv.customer_email].filter((v): v is string => !!v).join('\n') || inv.customer, 300, y + 15, { width: 245 });

  y += 70;
  const headline = inv.status === 'paid' ? `${m(inv.amount_paid)} paid ${invoiceDate(inv.status_transitions.paid_at)}`
    : inv.status === 'open' ? `${m(inv.amount_remaining)} due${inv.due_date ? ` ${invoiceDate(inv.due_date)}` : ''}`
      : `${m(inv.amount_remaining)} ${inv.status}`;
  doc.font('Helvetica-Bold').fontSize(14).text(headline, LEFT, y);
  if (inv.description) doc.font('Helvetica').fontSize(10).text(inv.description, LEFT, y + 20, { width: RIGHT - LEFT });

  y = doc.y + 25;
  doc.font('Helvetica-Bold').fontSize(9);
  doc.text('Description', COLUMNS.description, y).text('Qty', COLUMNS.qty, y).text('Unit price', COLUMNS.unit, y)
    .text('Amount', COLUMNS.amount, y, { width: RIGHT - COLUMNS.amount, align: 'right' });
  y += 14;
  doc.moveTo(LEFT, y).lineTo(RIGHT, y).lineWidth(0.5).stroke();
  y += 6;
  doc.font('Helvetica').fontSize(9);
  for (const line of inv.lines.data) {
    y = roomFor(doc, y, 30);
    const unit = Number(line.pricing?.unit_amount_decimal ?? line.amount);
    doc.text(line.description ?? 'Item', COLUMNS.description, y, { width: COLUMNS.qty - LEFT - 10 });
    const next = doc.y;
    doc.text(String(line.quantity ?? 1), COLUMNS.qty, y).text(m(unit), COLUMNS.unit, y)
      .text(m(line.amount), COLUMNS.amount, y, { width: RIGHT - COLUMNS.amount, align: 'right' });
    y = Math.max(next, y + 12) + 6;
  }
  doc.moveTo(LEFT, y).lineTo(RIGHT, y).stroke();
  y += 10;

  const totals: [string, number, boolean][] = [
    ['Subtotal', inv.subtotal, false],
    ['Total', inv.total, false],
    ['Amount paid', inv.amount_paid, false],
    ['Amount due', inv.amount_remaining, true],
  ];
  y = roomFor(doc, y, 100);
  for (const [label, amount, bold] of totals) {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').text(label, COLUMNS.unit - 60, y).text(m(amount), COLUMNS.amount, y, { width: RIGHT - COLUMNS.amount, align: 'right' });
    y += 15;
  }

  y += 20;
  doc.font('Helvetica').fontSize(9);
  if (inv.status === 'open' && inv.hosted_invoice_url) doc.text(`Pay online: ${inv.hosted_invoice_url}`, LEFT, y, { width: RIGHT - LEFT });
  if (inv.footer) doc.text(inv.footer, LEFT, doc.y + 10, { width: RIGHT - LEFT });
  doc.end();
  return doc;
}

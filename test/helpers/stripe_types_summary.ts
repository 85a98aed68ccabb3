/**
 * Summarizes a gathered stripe-types report (the JSON lines ONCEPAY_STRIPE_TYPES_REPORT=<file>
 * collects, see stripe_types.ts) by object type and field:
 *
 *   node --import tsx test/helpers/stripe_types_summary.ts report.jsonl > summary.txt
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { shortTypeName } from './stripe_types.ts';

interface Line {
  file: string;
  summary?: true;
  route?: string;
  objectType?: string;
  path?: string;
  message?: string;
  responses?: number;
  checked?: number;
  samples?: number;
  violations?: number;
  ms?: number;
}

export function summarize(text: string): string {
  const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  const totals = lines.filter((l) => l.summary);
  const byField = new Map<string, { count: number; responses: number; files: Set<string>; example: Line }>();
  for (const l of lines) {
    if (l.summary) continue;
    l.objectType = shortTypeName(l.objectType ?? '?');
    l.message = shortTypeName(l.message ?? '');
    const kind = /^(missing|unknown field)/.exec(l.message ?? '')?.[1] ?? 'wrong value';
    const field = kind === 'wrong value' ? (l.path ?? '').replace(/\[\d+\]/g, '[]') : (l.path ?? '').split('.').pop()!.replace(/\[\d+\]/g, '');
    const key = `${l.objectType}\t${kind}\t${field}`;
    const entry = byField.get(key) ?? { count: 0, responses: 0, files: new Set(), example: l };
    entry.count++;
    entry.responses += l.responses ?? 1;
    entry.files.add(l.file.replace(/^.*\/test\//, 'test/'));
    byField.set(key, entry);
  }
  const sum = (f: (l: Line) => number | undefined) => totals.reduce((a, l) => a + (f(l) ?? 0), 0);
  const out = [
    `${totals.length} test servers; ${sum((l) => l.checked)} objects type-checked as ${sum((l) => l.samples)} distinct shapes; ${sum((l) => l.violations)} violations; ${sum((l) => l.ms)} ms checking in all`,
    `${byField.size} distinct (object type, kind, field):`,
    '',
  ];
  let current = '';
  for (const [key, e] of [...byField].sort(([a], [b]) => a.localeCompare(b))) {
    const [objectType, kind, field] = key.split('\t');
    if (objectType !== current) out.push(`${objectType}`);
    current = objectType;
    out.push(`  ${kind.padEnd(13)} ${field.padEnd(40)} ${String(e.count).padStart(4)}x (${e.responses} responses) e.g. ${e.example.route} ${e.example.path}: ${e.example.message}  [${[...e.files].slice(0, 3).join(', ')}${e.files.size > 3 ? ', ...' : ''}]`);
  }
  return `${out.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: stripe_types_summary.ts <report.jsonl>');
  process.stdout.write(summarize(readFileSync(file, 'utf8')));
}

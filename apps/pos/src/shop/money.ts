/**
 * Money as people read it. Amounts are integer cents everywhere else; only this module turns them into text.
 */

const formats = new Map<string, Intl.NumberFormat>();

/** `1250` cents in `EUR` → `€12.50` (in `locale`, default `en-IE`). */
export function formatCents(cents: number, currency = 'EUR', locale = 'en-IE'): string {
  const key = `${locale}:${currency}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency });
    formats.set(key, format);
  }
  return format.format(cents / 100);
}

/**
 * Parses what a person typed as a price (`12.5`, `12,50`, `€ 3`) into cents, or `undefined` when it is not a
 * non-negative amount with at most two decimals.
 */
export function parseCents(text: string): number | undefined {
  const cleaned = text.replace(/[^\d.,-]/g, '').replace(',', '.');
  if (!/^\d+(\.\d{1,2})?$/.test(cleaned)) return undefined;
  const [whole = '0', fraction = ''] = cleaned.split('.');
  const cents = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  return Number.isSafeInteger(cents) ? cents : undefined;
}

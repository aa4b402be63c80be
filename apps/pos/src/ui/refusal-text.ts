/**
 * A refused write in a cashier's words: what was refused and why, without codes or role names (those stay in the
 * folded details). The server's reason names fields in double quotes (`Role "cashier" may not write "price"`).
 */
import type { RefusedWrite } from '../app/shop-database';

/** What the till calls one document of a collection, and several. */
const NOUNS: Readonly<Record<string, readonly [string, string]>> = {
  products: ['product', 'products'],
  orders: ['sale', 'sales'],
  orderLines: ['sale line', 'sale lines'],
  stores: ['store', 'stores'],
};

function nouns(collection: string): readonly [string, string] {
  return NOUNS[collection] ?? ['record', 'records'];
}

function quotedFields(reason: string): string[] {
  return [...reason.matchAll(/"([^"]+)"/g)]
    .map((m) => m[1] ?? '')
    .filter((name) => !/^(cashier|manager|admin)$/.test(name));
}

function list(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** The headline and the explanation of a refusal; `name` is the document's readable name when known. */
export function refusalText(row: RefusedWrite, name: string | undefined): { title: string; reason: string } {
  const [one, many] = nouns(row.collection);
  const fields = row.code === 'field_denied' ? quotedFields(row.reason) : [];
  const what = name ? `${one} ${name}` : `a ${one}`;
  const title = fields.length > 0 ? `New ${list(fields)} for ${name ?? `a ${one}`}` : `Change to ${what}`;
  const reasons: Readonly<Record<string, string>> = {
    field_denied:
      row.collection === 'products'
        ? `Only the back office can change a product's ${list(fields) || 'details'}.`
        : `This till may not change the ${list(fields) || 'details'} of ${many}.`,
    row_denied: `This ${one} belongs to another store, or is out of this till's reach.`,
    insert_denied: `This till may not add ${many}.`,
    delete_denied: `This till may not delete ${many}.`,
    no_role: `This till has no access to ${many}.`,
    permission_denied: `This till has no access to ${many}.`,
    depends_on_refused: 'It was part of a change the server turned down.',
    clock_skew: "This till's clock is far off: check its date and time.",
    schema_invalid: 'The server could not read it: this till may need an update (reload the page).',
  };
  return { title, reason: reasons[row.code] ?? 'The server did not accept it.' };
}

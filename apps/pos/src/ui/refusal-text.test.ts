import { describe, expect, it } from 'vitest';
import { refusalText } from './refusal-text';

const row = (collection: string, code: string, reason: string) => ({
  op: 'r:1',
  collection,
  doc: 'd1',
  code,
  reason,
  at: 0,
});

describe("refusals in a cashier's words", () => {
  it('says which change to which product was refused and who may make it, without codes or roles', () => {
    const text = refusalText(
      row('products', 'field_denied', 'Role "cashier" may not write "price"'),
      'Butter croissant',
    );
    expect(text).toEqual({
      title: 'New price for Butter croissant',
      reason: "Only the back office can change a product's price.",
    });
    expect(JSON.stringify(text)).not.toMatch(/cashier|field_denied|Role/);
  });

  it('explains every refusal code a till can meet, and something sensible for an unknown one', () => {
    expect(
      refusalText(row('orders', 'row_denied', 'Role "cashier" may not modify'), 'T1-K7QM-0001').reason,
    ).toBe("This sale belongs to another store, or is out of this till's reach.");
    expect(refusalText(row('orders', 'delete_denied', 'x'), undefined)).toEqual({
      title: 'Change to a sale',
      reason: 'This till may not delete sales.',
    });
    expect(refusalText(row('stores', 'limit_exceeded', 'x'), undefined).reason).toBe(
      'The server did not accept it.',
    );
  });
});

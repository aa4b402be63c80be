import { describe, expect, it } from 'vitest';
import { addToCart, type Cart, cartTotals, changeQuantity, MAX_QUANTITY, setQuantity } from './cart';

const croissant = { id: 'p-croissant', name: 'Croissant', price: 145 };
const latte = { id: 'p-latte', name: 'Caffè latte', price: 320 };
const water = { id: 'p-water', name: 'Still water', price: 110 };

describe('cart', () => {
  it('adds a product once per line and counts repeats as quantity', () => {
    let cart: Cart = [];
    cart = addToCart(cart, croissant);
    cart = addToCart(cart, latte);
    cart = addToCart(cart, croissant);
    expect(cart).toEqual([
      { productId: 'p-croissant', name: 'Croissant', price: 145, quantity: 2 },
      { productId: 'p-latte', name: 'Caffè latte', price: 320, quantity: 1 },
    ]);
  });

  it('totals in exact integer cents where floating point euros would drift', () => {
    let cart: Cart = addToCart([], { id: 'p-sweet', name: 'Sweet', price: 10 });
    cart = addToCart(cart, { id: 'p-gum', name: 'Gum', price: 20 });
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(cartTotals(cart)).toEqual({ itemCount: 2, total: 30 });
  });

  it('sums price × quantity across lines', () => {
    const cart = setQuantity(addToCart(addToCart([], croissant), latte), 'p-croissant', 3);
    expect(cartTotals(cart)).toEqual({ itemCount: 4, total: 3 * 145 + 320 });
    expect(cartTotals([])).toEqual({ itemCount: 0, total: 0 });
  });

  it('removes a line whose quantity drops to zero, and ignores unknown products', () => {
    let cart = addToCart(addToCart([], croissant), water);
    cart = changeQuantity(cart, 'p-water', -1);
    expect(cart.map((l) => l.productId)).toEqual(['p-croissant']);
    expect(changeQuantity(cart, 'p-nothing', 1)).toBe(cart);
    expect(setQuantity(cart, 'p-croissant', 0)).toEqual([]);
  });

  it('caps a quantity and truncates fractions', () => {
    const cart = addToCart([], croissant);
    expect(setQuantity(cart, 'p-croissant', 5000)[0]?.quantity).toBe(MAX_QUANTITY);
    expect(setQuantity(cart, 'p-croissant', 2.7)[0]?.quantity).toBe(2);
  });

  it('keeps the price a line was added at', () => {
    const cart = addToCart([], croissant);
    const after = addToCart(cart, { ...croissant, price: 999 });
    expect(after[0]).toMatchObject({ price: 145, quantity: 2 });
  });

  it('refuses prices that are not whole cents', () => {
    expect(() => addToCart([], { id: 'x', name: 'X', price: 1.5 })).toThrow(RangeError);
    expect(() => addToCart([], { id: 'x', name: 'X', price: -1 })).toThrow(RangeError);
  });
});

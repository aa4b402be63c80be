import type { ReactNode } from 'react';
import { type Cart, cartTotals } from '../shop/cart';
import { formatCents } from '../shop/money';

/** Cart panel props. */
export interface CartPanelProps {
  readonly cart: Cart;
  readonly currency: string;
  readonly note: string;
  /** The line `+`/`-` act on. */
  readonly selected: string | undefined;
  readonly busy: boolean;
  readonly onSelect: (productId: string) => void;
  readonly onChange: (productId: string, delta: number) => void;
  readonly onRemove: (productId: string) => void;
  readonly onNote: (note: string) => void;
  readonly onCheckout: () => void;
  readonly onClear: () => void;
  /** Shown under the charge button (the outcome of the last sale). */
  readonly children?: ReactNode;
}

/** The current sale: lines with quantities, the order note, the total and the charge button. */
export function CartPanel(props: CartPanelProps) {
  const { cart, currency, selected } = props;
  const { itemCount, total } = cartTotals(cart);
  return (
    <section className="cart" aria-labelledby="cart-title">
      <div className="cart-head">
        <h2 id="cart-title">Current sale</h2>
        <button type="button" className="link" onClick={props.onClear} disabled={cart.length === 0}>
          Clear
        </button>
      </div>
      {cart.length === 0 ? (
        <p className="muted cart-empty">Tap a product or type its name and press Enter.</p>
      ) : (
        <ul className="cart-lines" aria-label="Items in this sale">
          {cart.map((line) => (
            <li
              key={line.productId}
              className="cart-line"
              aria-current={line.productId === selected ? 'true' : undefined}
              onFocusCapture={() => props.onSelect(line.productId)}
            >
              <div className="line-name">
                <span>{line.name}</span>
                <span className="muted">{formatCents(line.price, currency)} each</span>
              </div>
              <fieldset className="qty">
                <legend className="visually-hidden">Quantity of {line.name}</legend>
                <button
                  type="button"
                  aria-label={`One less ${line.name}`}
                  onClick={() => props.onChange(line.productId, -1)}
                >
                  −
                </button>
                <output aria-live="polite" aria-label={`${line.name} quantity`}>
                  {line.quantity}
                </output>
                <button
                  type="button"
                  aria-label={`One more ${line.name}`}
                  onClick={() => props.onChange(line.productId, 1)}
                >
                  +
                </button>
              </fieldset>
              <span className="line-total">{formatCents(line.price * line.quantity, currency)}</span>
              <button
                type="button"
                className="line-remove"
                aria-label={`Remove ${line.name}`}
                onClick={() => props.onRemove(line.productId)}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="cart-foot">
        <label className="note">
          <span>Order note</span>
          <textarea
            rows={2}
            value={props.note}
            placeholder="e.g. gift wrap, table 4"
            onChange={(e) => props.onNote(e.target.value)}
          />
        </label>
        <div className="totals">
          <span>
            {itemCount} item{itemCount === 1 ? '' : 's'}
          </span>
          <strong data-testid="cart-total">{formatCents(total, currency)}</strong>
        </div>
        <button
          type="button"
          className="checkout"
          disabled={cart.length === 0 || props.busy}
          onClick={props.onCheckout}
          aria-keyshortcuts="Control+Enter F9"
        >
          {cart.length === 0 ? 'Charge' : `Charge ${formatCents(total, currency)}`}
        </button>
        {props.children}
      </div>
    </section>
  );
}

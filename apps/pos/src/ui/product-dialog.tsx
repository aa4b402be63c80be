import { useEffect, useId, useRef, useState } from 'react';
import { formatCents, parseCents } from '../shop/money';
import type { Product } from '../shop/schema';

/** Product dialog props. */
export interface ProductDialogProps {
  /** The live product (its price reverts here if the server refuses a change). */
  readonly product: Product;
  readonly currency: string;
  readonly onClose: () => void;
  readonly onAdd: (product: Product) => void;
  /** Saves a new price locally; the server decides whether it stands. */
  readonly onSetPrice: (product: Product, cents: number) => Promise<void>;
}

/** A product's details, with a price field (the server's rules decide whether a till may change it). */
export function ProductDialog({ product, currency, onClose, onAdd, onSetPrice }: ProductDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [price, setPrice] = useState(() => (product.price / 100).toFixed(2));
  const [message, setMessage] = useState<string | undefined>(undefined);

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);

  async function save(): Promise<void> {
    const cents = parseCents(price);
    if (cents === undefined) {
      setMessage('Enter a price such as 2.50.');
      return;
    }
    try {
      await onSetPrice(product, cents);
      setMessage('Saved on this till; the server checks it when the till syncs.');
    } catch (error) {
      setMessage(`Not saved: ${(error as Error).message}`);
    }
  }

  return (
    <dialog
      ref={ref}
      className="product-dialog"
      aria-labelledby={titleId}
      onClose={onClose}
      onCancel={onClose}
      data-testid="product-dialog"
    >
      <h2 id={titleId}>{product.name}</h2>
      <dl className="facts">
        <dt>Category</dt>
        <dd>{product.category}</dd>
        <dt>SKU</dt>
        <dd>{product.sku ?? '—'}</dd>
        <dt>In stock</dt>
        <dd data-testid="dialog-stock">{product.stock}</dd>
        <dt>Price</dt>
        <dd data-testid="dialog-price">{formatCents(product.price, currency)}</dd>
      </dl>
      <form
        className="price-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label>
          <span>New price ({currency})</span>
          <input
            inputMode="decimal"
            value={price}
            onChange={(e) => setPrice(e.target.value)}
            aria-describedby={`${titleId}-hint`}
          />
        </label>
        <button type="submit">Change price</button>
      </form>
      <p id={`${titleId}-hint`} className="muted">
        Prices are set by the back office: a change made on a till is refused by the server and undone.
      </p>
      {message ? (
        <p role="status" className="dialog-message">
          {message}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" className="primary" onClick={() => onAdd(product)}>
          Add to sale
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </dialog>
  );
}

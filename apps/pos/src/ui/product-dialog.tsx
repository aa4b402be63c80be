import { useEffect, useId, useState } from 'react';
import { useCan, useRefusedWrites } from '../app/loam';
import { formatCents, parseCents } from '../shop/money';
import type { Product } from '../shop/schema';
import { ModalDialog } from './modal-dialog';
import { refusalText } from './refusal-text';

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

type Outcome =
  | { readonly kind: 'saved'; readonly at: number; readonly cents: number }
  | { readonly kind: 'invalid' | 'failed'; readonly text: string };

const asInput = (cents: number) => (cents / 100).toFixed(2);

/**
 * A product's details. The price field is offered only when the relay's rules for this till allow changing the
 * price (`useCan`). A change to the product the server refuses while the dialog is open (made here before the rules
 * were known, or by any other means) is reported here, and the field goes back to the price that stands.
 */
export function ProductDialog({ product, currency, onClose, onAdd, onSetPrice }: ProductDialogProps) {
  const titleId = useId();
  const [price, setPrice] = useState(() => asInput(product.price));
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const [openedAt] = useState(() => Date.now());
  const mayChange = useCan('products', { action: 'update', doc: product, patch: { price: product.price } });
  const refused = useRefusedWrites();
  const saved = outcome?.kind === 'saved' ? outcome : undefined;
  const since = saved?.at ?? openedAt;
  const refusal = refused.data?.find(
    (r) => r.collection === 'products' && r.doc === product.id && r.at >= since,
  );

  useEffect(() => {
    if (refusal) setPrice(asInput(product.price));
  }, [refusal, product.price]);

  async function save(): Promise<void> {
    const cents = parseCents(price);
    if (cents === undefined) {
      setOutcome({ kind: 'invalid', text: 'Enter a price such as 2.50.' });
      return;
    }
    const at = Date.now();
    try {
      await onSetPrice(product, cents);
      setOutcome({ kind: 'saved', at, cents });
    } catch (error) {
      setOutcome({ kind: 'failed', text: `Not saved: ${(error as Error).message}` });
    }
  }

  let message: { text: string; tone: 'warn' | 'bad' | 'ok' } | undefined;
  if (refusal) {
    message = {
      tone: 'bad',
      text: `The server refused ${saved ? `the new price ${formatCents(saved.cents, currency)}` : 'a change to this product'}: ${refusalText(refusal, product.name).reason} The price is back to ${formatCents(product.price, currency)}.`,
    };
  } else if (saved) {
    message = {
      tone: 'ok',
      text: 'Saved on this till; the server checks it when the till syncs.',
    };
  } else if (outcome && outcome.kind !== 'saved')
    message = { tone: outcome.kind === 'invalid' ? 'warn' : 'bad', text: outcome.text };

  return (
    <ModalDialog className="product-dialog" testId="product-dialog" labelledBy={titleId} onClose={onClose}>
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
      {mayChange ? (
        <form
          className="price-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <label>
            <span>New price ({currency})</span>
            <input inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} />
          </label>
          <button type="submit">Change price</button>
        </form>
      ) : (
        <p className="muted" data-testid="price-locked">
          Prices are set by the back office.
        </p>
      )}
      {message ? (
        <p role="status" className={`dialog-message tone-${message.tone}`} data-testid="price-message">
          {message.text}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
        <button type="button" className="primary" onClick={() => onAdd(product)}>
          Add to sale
        </button>
      </div>
    </ModalDialog>
  );
}

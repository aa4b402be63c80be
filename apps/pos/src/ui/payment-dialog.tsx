import { useId, useRef, useState } from 'react';
import { formatCents, parseCents } from '../shop/money';
import { changeDue, type Payment, type PaymentMethod, quickAmounts } from '../shop/payment';
import { ModalDialog } from './modal-dialog';

/** Payment dialog props. */
export interface PaymentDialogProps {
  /** What the customer pays, in cents. */
  readonly total: number;
  readonly itemCount: number;
  readonly currency: string;
  /** Records the sale; the dialog shows its error if it rejects. */
  readonly onPay: (payment: Payment) => Promise<void>;
  readonly onClose: () => void;
}

/**
 * Taking the payment: cash (the amount handed over, with the change due; an empty amount means the exact sum) or
 * card (taken on the card terminal, then confirmed here). Enter completes a cash sale.
 */
export function PaymentDialog({ total, itemCount, currency, onPay, onClose }: PaymentDialogProps) {
  const inputRef = useRef<HTMLInputElement>(null);
  const titleId = useId();
  const [method, setMethod] = useState<PaymentMethod>('cash');
  const [given, setGiven] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);

  const tendered = given.trim() === '' ? total : parseCents(given);
  const change = tendered === undefined ? undefined : changeDue(total, tendered);

  async function pay(payment: Payment): Promise<void> {
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await onPay(payment);
    } catch (e) {
      setError(`The sale was not recorded: ${(e as Error).message}`);
      setBusy(false);
    }
  }

  return (
    <ModalDialog
      className="payment-dialog"
      testId="payment-dialog"
      labelledBy={titleId}
      onClose={onClose}
      initialFocus={inputRef}
    >
      <div className="pay-head">
        <h2 id={titleId}>Payment</h2>
        <p className="pay-total">
          <span className="muted">
            {itemCount} item{itemCount === 1 ? '' : 's'} · to pay
          </span>
          <strong data-testid="pay-total">{formatCents(total, currency)}</strong>
        </p>
      </div>
      <fieldset className="pay-methods">
        <legend className="visually-hidden">Payment method</legend>
        {(['cash', 'card'] as const).map((m) => (
          <button
            key={m}
            type="button"
            aria-pressed={method === m}
            className="pay-method"
            onClick={() => {
              setMethod(m);
              if (m === 'cash') queueMicrotask(() => inputRef.current?.focus());
            }}
          >
            <span className="pay-icon" aria-hidden="true">
              {m === 'cash' ? '€' : '▭'}
            </span>
            {m === 'cash' ? 'Cash' : 'Card'}
          </button>
        ))}
      </fieldset>
      {method === 'cash' ? (
        <form
          className="pay-cash"
          onSubmit={(e) => {
            e.preventDefault();
            if (tendered !== undefined && change !== undefined) void pay({ method: 'cash', tendered });
          }}
        >
          <label className="pay-given">
            <span>Cash received ({currency})</span>
            <input
              ref={inputRef}
              inputMode="decimal"
              autoComplete="off"
              placeholder={(total / 100).toFixed(2)}
              value={given}
              onChange={(e) => setGiven(e.target.value)}
            />
          </label>
          <fieldset className="pay-quick">
            <legend className="visually-hidden">Amount handed over</legend>
            {quickAmounts(total).map((amount) => (
              <button
                key={amount}
                type="button"
                className="chip"
                onClick={() => setGiven((amount / 100).toFixed(2))}
              >
                {amount === total ? 'Exact' : formatCents(amount, currency)}
              </button>
            ))}
          </fieldset>
          <p className="pay-change" data-testid="change-due">
            {change === undefined ? (
              <span className="tone-bad">
                {tendered === undefined ? 'Enter an amount such as 20 or 12.50' : 'Not enough cash'}
              </span>
            ) : (
              <>
                <span>Change due</span>
                <strong>{formatCents(change, currency)}</strong>
              </>
            )}
          </p>
          <button type="submit" className="primary pay-confirm" disabled={change === undefined || busy}>
            Complete cash sale
          </button>
        </form>
      ) : (
        <div className="pay-card">
          <p>
            Take {formatCents(total, currency)} on the card terminal, then confirm here once it is approved.
          </p>
          <button
            type="button"
            className="primary pay-confirm"
            disabled={busy}
            onClick={() => void pay({ method: 'card' })}
          >
            Card payment approved
          </button>
        </div>
      )}
      {error ? (
        <p role="alert" className="dialog-message tone-bad">
          {error}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" onClick={onClose} disabled={busy}>
          Back to the sale
        </button>
      </div>
    </ModalDialog>
  );
}

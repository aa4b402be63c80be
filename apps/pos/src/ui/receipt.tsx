import { type ReactNode, useId, useRef } from 'react';
import { createPortal } from 'react-dom';
import { formatCents } from '../shop/money';
import type { Order, Store } from '../shop/schema';
import { ModalDialog } from './modal-dialog';

const dateFormat = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

/** What a receipt prints: the order, and, for a void, the ticket number of the sale it reverses. */
export interface ReceiptProps {
  readonly order: Order;
  readonly store: Store | undefined;
  readonly currency: string;
  /** For a void: the voided sale's ticket number. */
  readonly voidOfNumber?: string;
}

/** A receipt as printed on a till roll (also shown on screen before printing). */
export function Receipt({ order, store, currency, voidOfNumber }: ReceiptProps) {
  const isVoid = order.kind === 'void';
  return (
    <article className="receipt" aria-label={`Receipt ${order.number}`} data-testid="receipt">
      <header>
        <strong className="receipt-store">{store?.name ?? 'Loam POS'}</strong>
        {store?.address ? <span>{store.address}</span> : null}
      </header>
      {isVoid ? (
        <p className="receipt-void">VOID{voidOfNumber ? ` of ${voidOfNumber}` : ''}: money given back</p>
      ) : null}
      <dl className="receipt-meta">
        <dt>Ticket</dt>
        <dd data-testid="receipt-number">{order.number}</dd>
        <dt>Date</dt>
        <dd>{dateFormat.format(order.createdAt)}</dd>
        <dt>Till</dt>
        <dd>
          {order.terminal} · {order.cashier}
        </dd>
      </dl>
      <table className="receipt-lines">
        <tbody>
          {order.lines.map((line) => (
            <tr key={line.productId}>
              <td>
                {line.quantity} × {line.name}
                {Math.abs(line.quantity) > 1 ? (
                  <span className="receipt-each">{formatCents(line.price, currency)} each</span>
                ) : null}
              </td>
              <td className="num">{formatCents(line.price * line.quantity, currency)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr className="receipt-total">
            <th scope="row">{isVoid ? 'Total given back' : 'Total'}</th>
            <td className="num" data-testid="receipt-total">
              {formatCents(order.total, currency)}
            </td>
          </tr>
          {order.payment === 'cash' && order.tendered !== undefined ? (
            <>
              <tr>
                <th scope="row">Cash</th>
                <td className="num">{formatCents(order.tendered, currency)}</td>
              </tr>
              <tr>
                <th scope="row">Change</th>
                <td className="num" data-testid="receipt-change">
                  {formatCents(order.change ?? 0, currency)}
                </td>
              </tr>
            </>
          ) : (
            <tr>
              <th scope="row">{isVoid ? 'Repaid' : 'Paid'}</th>
              <td className="num">
                {order.payment === 'card' ? 'by card' : order.payment ? 'in cash' : '—'}
              </td>
            </tr>
          )}
        </tfoot>
      </table>
      {order.note && !isVoid ? <p className="receipt-note">Note: {order.note}</p> : null}
      <footer>Thank you for your visit!</footer>
    </article>
  );
}

/** The element print styles show instead of the app (see `styles.css`, `@media print`). */
export function printRoot(): HTMLElement | null {
  return document.getElementById('print-root');
}

/** Renders `children` into the print root: what `window.print()` prints while this is mounted. */
export function Printable({ children }: { readonly children: ReactNode }) {
  const root = printRoot();
  return root ? createPortal(children, root) : null;
}

/** A receipt in a dialog, with Print (the browser's print dialog prints the receipt alone) and Close. */
export function ReceiptDialog({
  onClose,
  closeLabel = 'Close',
  ...receipt
}: ReceiptProps & { readonly onClose: () => void; readonly closeLabel?: string }) {
  const closeRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  return (
    <ModalDialog
      className="receipt-dialog"
      testId="receipt-dialog"
      labelledBy={titleId}
      onClose={onClose}
      initialFocus={closeRef}
    >
      <h2 id={titleId} className="visually-hidden">
        Receipt {receipt.order.number}
      </h2>
      <Receipt {...receipt} />
      <Printable>
        <Receipt {...receipt} />
      </Printable>
      <div className="dialog-actions">
        <button type="button" onClick={() => window.print()}>
          Print receipt
        </button>
        <button ref={closeRef} type="button" className="primary" onClick={onClose}>
          {closeLabel}
        </button>
      </div>
    </ModalDialog>
  );
}

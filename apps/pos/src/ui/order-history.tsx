import { q } from '@loam/core';
import { useMemo, useState } from 'react';
import { useAggregate, useQuery } from '../app/loam';
import { formatCents } from '../shop/money';
import { type DayRange, type KindPaymentRow, ordersByKindAndPayment, summarizeDay } from '../shop/report';
import type { Order } from '../shop/schema';

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  day: '2-digit',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

/** How many orders the list shows (the day's totals above it always count every order). */
export const ORDERS_SHOWN = 200;

/** Order history props. */
export interface OrderHistoryProps {
  readonly storeId: string;
  readonly currency: string;
  readonly day: DayRange;
  /** Whether this till may record voids (the relay's rules). */
  readonly canVoid: boolean;
  readonly onReceipt: (order: Order) => void;
  /** Records the void of `order`; rejects with a message to show. */
  readonly onVoid: (order: Order) => Promise<void>;
}

const PAYMENT_LABELS: Readonly<Record<string, string>> = { cash: 'Cash', card: 'Card' };

/**
 * The store's orders from every till, newest first (the latest {@link ORDERS_SHOWN}), under today's totals from a
 * live aggregate over all of today's orders. A sale can be voided (a new order reverses it) and its receipt
 * reprinted.
 */
export function OrderHistory({ storeId, currency, day, canVoid, onReceipt, onVoid }: OrderHistoryProps) {
  const orders = useQuery('orders', {
    filter: q.eq('storeId', storeId),
    sort: [q.desc('createdAt')],
    limit: ORDERS_SHOWN,
  });
  const today = useAggregate('orders', ordersByKindAndPayment({ storeId }, day));
  const [confirming, setConfirming] = useState<string | undefined>(undefined);
  const [voidError, setVoidError] = useState<{ id: string; text: string } | undefined>(undefined);
  const voidedBy = useMemo(() => {
    const map = new Map<string, Order>();
    for (const o of orders.data ?? []) if (o.voidOf) map.set(o.voidOf, o);
    return map;
  }, [orders.data]);
  const byId = useMemo(
    () => new Map<string, Order>((orders.data ?? []).map((o) => [o.id, o])),
    [orders.data],
  );

  const summary =
    today.status === 'ready' ? summarizeDay(today.data as readonly KindPaymentRow[]) : undefined;

  return (
    <div className="history" data-ready={orders.status === 'ready'}>
      <p className="history-summary" data-testid="today-summary">
        {summary ? (
          <>
            Today: <strong>{summary.sales.count}</strong> sale{summary.sales.count === 1 ? '' : 's'}
            {summary.voids.count > 0 ? (
              <>
                {' '}
                · <strong>{summary.voids.count}</strong> void{summary.voids.count === 1 ? '' : 's'}
              </>
            ) : null}{' '}
            · <strong>{formatCents(summary.net, currency)}</strong> taken, all tills
          </>
        ) : (
          'Adding up today…'
        )}
      </p>
      {orders.status === 'loading' ? (
        <p className="muted pad">Loading orders…</p>
      ) : orders.status === 'error' ? (
        <p className="pad tone-bad">The orders could not be read: {orders.error.message}</p>
      ) : orders.data.length === 0 ? (
        <p className="muted pad">No sales yet in this store.</p>
      ) : (
        <ul className="orders" aria-label="Orders of this store">
          {orders.data.map((o) => {
            const isVoid = o.kind === 'void';
            const voided = voidedBy.get(o.id);
            const voidOf = o.voidOf ? byId.get(o.voidOf) : undefined;
            return (
              <li key={o.id} data-testid="order" data-kind={isVoid ? 'void' : 'sale'}>
                <details>
                  <summary>
                    <span className="order-number">{o.number}</span>
                    <time dateTime={o.createdAt.toISOString()}>{timeFormat.format(o.createdAt)}</time>
                    <span className="muted">
                      {o.cashier} · till {o.terminal}
                    </span>
                    <span className="order-tags">
                      {isVoid ? <span className="tag tag-void">Void</span> : null}
                      {voided ? <span className="tag tag-voided">Voided</span> : null}
                      {o.payment ? (
                        <span className="tag">{PAYMENT_LABELS[o.payment] ?? o.payment}</span>
                      ) : null}
                    </span>
                    <strong className={`order-total${o.total < 0 ? ' tone-bad' : ''}`}>
                      {formatCents(o.total, currency)}
                    </strong>
                  </summary>
                  <div className="order-body">
                    <ul className="order-lines">
                      {o.lines.map((line) => (
                        <li key={line.productId}>
                          <span>
                            {line.quantity} × {line.name}
                          </span>
                          <span>{formatCents(line.price * line.quantity, currency)}</span>
                        </li>
                      ))}
                    </ul>
                    {isVoid ? (
                      <p className="order-note">Reverses {voidOf?.number ?? 'an earlier sale'}.</p>
                    ) : o.note ? (
                      <p className="order-note">Note: {o.note}</p>
                    ) : null}
                    {voided ? <p className="order-note">Voided by {voided.number}.</p> : null}
                    <div className="order-actions">
                      <button type="button" className="button" onClick={() => onReceipt(o)}>
                        Receipt
                      </button>
                      {!isVoid && !voided && canVoid ? (
                        confirming === o.id ? (
                          <>
                            <span className="confirm-text">
                              Give back {formatCents(o.total, currency)}{' '}
                              {o.payment === 'card' ? 'to the card' : 'in cash'} and put the items back in
                              stock?
                            </span>
                            <button
                              type="button"
                              className="button danger"
                              onClick={() => {
                                setConfirming(undefined);
                                onVoid(o).catch((error: unknown) =>
                                  setVoidError({ id: o.id, text: (error as Error).message }),
                                );
                              }}
                            >
                              Void {o.number}
                            </button>
                            <button type="button" className="button" onClick={() => setConfirming(undefined)}>
                              Keep the sale
                            </button>
                          </>
                        ) : (
                          <button
                            type="button"
                            className="button"
                            onClick={() => {
                              setVoidError(undefined);
                              setConfirming(o.id);
                            }}
                          >
                            Void sale
                          </button>
                        )
                      ) : null}
                    </div>
                    {voidError?.id === o.id ? <p className="tone-bad order-note">{voidError.text}</p> : null}
                  </div>
                </details>
              </li>
            );
          })}
        </ul>
      )}
      {orders.data?.length === ORDERS_SHOWN ? (
        <p className="muted pad">Showing the latest {ORDERS_SHOWN} orders; the day report counts them all.</p>
      ) : null}
    </div>
  );
}

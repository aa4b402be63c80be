import { formatCents } from '../shop/money';
import type { Order } from '../shop/schema';

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  day: '2-digit',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

function startOfDay(now: number): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The store's orders, newest first, from every terminal of the store; today's count and takings on top. */
export function OrderHistory({
  orders,
  currency,
  now,
}: {
  readonly orders: readonly Order[] | undefined;
  readonly currency: string;
  readonly now: number;
}) {
  if (orders === undefined) return <p className="muted pad">Loading orders…</p>;
  const today = orders.filter((o) => o.createdAt.getTime() >= startOfDay(now));
  const takings = today.reduce((sum, o) => sum + o.total, 0);
  return (
    <div className="history">
      <p className="history-summary">
        Today: <strong>{today.length}</strong> sale{today.length === 1 ? '' : 's'} ·{' '}
        <strong>{formatCents(takings, currency)}</strong>
      </p>
      {orders.length === 0 ? (
        <p className="muted pad">No sales yet in this store.</p>
      ) : (
        <ul className="orders" aria-label="Orders of this store">
          {orders.map((o) => (
            <li key={o.id} data-testid="order">
              <details>
                <summary>
                  <span className="order-number">{o.number}</span>
                  <time dateTime={o.createdAt.toISOString()}>{timeFormat.format(o.createdAt)}</time>
                  <span className="muted">
                    {o.cashier} · till {o.terminal}
                  </span>
                  <span className="muted">
                    {o.itemCount} item{o.itemCount === 1 ? '' : 's'}
                  </span>
                  <strong className="order-total">{formatCents(o.total, currency)}</strong>
                </summary>
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
                {o.note ? <p className="order-note">Note: {o.note}</p> : null}
              </details>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

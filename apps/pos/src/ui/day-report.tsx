import { useState } from 'react';
import { useAggregate } from '../app/loam';
import { formatCents } from '../shop/money';
import {
  type DayRange,
  itemsSoldByProduct,
  type KindPaymentRow,
  ordersByKindAndPayment,
  type ReportScope,
  summarizeDay,
} from '../shop/report';
import { Printable } from './receipt';

const dayFormat = new Intl.DateTimeFormat('en-GB', {
  weekday: 'long',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
});

const METHOD_LABELS = { cash: 'Cash', card: 'Card', unknown: 'Not recorded' } as const;

/** A table of the report: a name, then two figures per row. */
function ReportTable({
  testId,
  head,
  rows,
}: {
  readonly testId: string;
  readonly head: readonly [string, string, string];
  readonly rows: readonly {
    readonly key: string;
    readonly data: Readonly<Record<`data-${string}`, string>>;
    readonly cells: readonly [string, string | number, string];
  }[];
}) {
  return (
    <table className="report-table" data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">{head[0]}</th>
          <th scope="col" className="num">
            {head[1]}
          </th>
          <th scope="col" className="num">
            {head[2]}
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map(({ key, data, cells }) => (
          <tr key={key} {...data}>
            <th scope="row">{cells[0]}</th>
            <td className="num">{cells[1]}</td>
            <td className="num">{cells[2]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Day report props. */
export interface DayReportProps {
  readonly storeId: string;
  readonly storeName: string;
  /** This till's number. */
  readonly terminal: string;
  readonly currency: string;
  readonly day: DayRange;
  /** Whether the report is what Print prints now (no receipt open above it). */
  readonly printable: boolean;
}

/**
 * The end-of-day report of this till or of the whole store, live: sales and voids, takings by payment method,
 * items sold. Every figure comes from an aggregate query over the day's orders and order lines on this device,
 * which holds every till's orders of the store once synced.
 */
export function DayReport({ storeId, storeName, terminal, currency, day, printable }: DayReportProps) {
  const [wholeStore, setWholeStore] = useState(false);
  const scope: ReportScope = wholeStore ? { storeId } : { storeId, terminal };
  const orders = useAggregate('orders', ordersByKindAndPayment(scope, day));
  const items = useAggregate('orderLines', itemsSoldByProduct(scope, day));
  if (orders.status === 'error' || items.status === 'error')
    return (
      <p className="pad tone-bad">
        The report could not be computed: {(orders.error ?? items.error)?.message}
      </p>
    );
  if (orders.status === 'loading' || items.status === 'loading')
    return <p className="pad muted">Adding up the day…</p>;

  const summary = summarizeDay(orders.data as readonly KindPaymentRow[]);
  const sold = items.data
    .filter((row) => row.quantity !== 0)
    .sort((a, b) => b.quantity - a.quantity || String(a.name).localeCompare(String(b.name)));
  const title = wholeStore ? `${storeName}, all tills` : `${storeName}, till ${terminal}`;

  const report = (
    <section className="report" aria-label={`Day report: ${title}`} data-testid="day-report">
      <header className="report-head">
        <div>
          <h2>End of day · {wholeStore ? 'all tills' : `till ${terminal}`}</h2>
          <p className="muted">
            {storeName} · {dayFormat.format(day.start)}
          </p>
        </div>
      </header>
      <div className="report-cards">
        <div className="report-card report-net">
          <span>Net takings</span>
          <strong data-testid="report-net">{formatCents(summary.net, currency)}</strong>
        </div>
        <div className="report-card">
          <span>Sales</span>
          <strong data-testid="report-sales">{summary.sales.count}</strong>
          <span className="muted">{formatCents(summary.sales.total, currency)}</span>
        </div>
        <div className="report-card">
          <span>Voids</span>
          <strong data-testid="report-voids">{summary.voids.count}</strong>
          <span className="muted">{formatCents(summary.voids.total, currency)}</span>
        </div>
      </div>
      <h3>By payment method</h3>
      {summary.byPayment.length === 0 ? (
        <p className="muted">No sales yet.</p>
      ) : (
        <ReportTable
          testId="report-payments"
          head={['Method', 'Sales', 'Net']}
          rows={summary.byPayment.map((p) => ({
            key: p.method,
            data: { 'data-method': p.method },
            cells: [METHOD_LABELS[p.method], p.sales, formatCents(p.total, currency)],
          }))}
        />
      )}
      <h3>Items sold</h3>
      {sold.length === 0 ? (
        <p className="muted">Nothing sold yet.</p>
      ) : (
        <ReportTable
          testId="report-items"
          head={['Product', 'Qty', 'Amount']}
          rows={sold.map((row) => ({
            key: String(row.productId),
            data: { 'data-product': String(row.productId) },
            cells: [String(row.name), row.quantity, formatCents(row.amount, currency)],
          }))}
        />
      )}
    </section>
  );

  return (
    <div className="report-view">
      <div className="report-tools">
        <fieldset className="segmented">
          <legend className="visually-hidden">Report for</legend>
          <button type="button" aria-pressed={!wholeStore} onClick={() => setWholeStore(false)}>
            This till
          </button>
          <button type="button" aria-pressed={wholeStore} onClick={() => setWholeStore(true)}>
            Whole store
          </button>
        </fieldset>
        <button type="button" className="button" onClick={() => window.print()}>
          Print report
        </button>
      </div>
      {report}
      {printable ? <Printable>{report}</Printable> : null}
    </div>
  );
}

import type { RefusedWrite } from '../app/shop-database';

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** What the till calls a collection. */
const collectionLabels: Readonly<Record<string, string>> = {
  products: 'Product',
  orders: 'Order',
  stores: 'Store',
};

/** The refused-writes panel: every change the server turned down, why, and that it was undone here. */
export function RefusedWritesPanel({
  rows,
  describe,
}: {
  readonly rows: readonly RefusedWrite[];
  /** A readable name for a refused document (e.g. the product name), when known. */
  readonly describe: (collection: string, doc: string) => string | undefined;
}) {
  return (
    <section className="refused" aria-labelledby="refused-title" data-testid="refused-writes">
      <h2 id="refused-title">
        Refused by the server <span className="count">{rows.length}</span>
      </h2>
      {rows.length === 0 ? (
        <p className="muted">Nothing refused. Changes the server turns down are listed here and undone.</p>
      ) : (
        <ul>
          {rows.map((row) => (
            <li key={row.op}>
              <div className="refused-head">
                <strong>
                  {collectionLabels[row.collection] ?? row.collection} ·{' '}
                  {describe(row.collection, row.doc) ?? row.doc}
                </strong>
                <time dateTime={new Date(row.at).toISOString()}>{timeFormat.format(row.at)}</time>
              </div>
              <div className="refused-reason">
                {row.reason} <code>{row.code}</code>
              </div>
              <div className="muted">Undone on this till.</div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

import type { RefusedWrite } from '../app/shop-database';
import { refusalText } from './refusal-text';

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/**
 * The refused-writes panel: every change the server turned down, in a cashier's words, and that it was undone
 * here; the server's code and reason are folded under "Details" for whoever fixes it.
 */
export function RefusedWritesPanel({
  rows,
  describe,
}: {
  readonly rows: readonly RefusedWrite[];
  /** A readable name for a refused document (e.g. the product name), when known. */
  readonly describe: (collection: string, doc: string) => string | undefined;
}) {
  if (rows.length === 0) return null;
  return (
    <section className="refused" aria-labelledby="refused-title" data-testid="refused-writes">
      <h2 id="refused-title">
        Not accepted by the server <span className="count">{rows.length}</span>
      </h2>
      <ul>
        {rows.map((row) => {
          const { title, reason } = refusalText(row, describe(row.collection, row.doc));
          return (
            <li key={row.op}>
              <div className="refused-head">
                <strong>{title}</strong>
                <time dateTime={new Date(row.at).toISOString()}>{timeFormat.format(row.at)}</time>
              </div>
              <div className="refused-reason">{reason} It was undone on this till.</div>
              <details className="refused-details">
                <summary>Details</summary>
                <code>{row.code}</code> {row.reason} · {row.collection}/{row.doc}
              </details>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

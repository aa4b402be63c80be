import type { RefusedWrite } from '../app/shop-database';
import { tillName } from './peer-text';
import { refusalText } from './refusal-text';

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/**
 * The refused-writes panel: every change the server turned down, in a cashier's words, and that it was undone
 * here; and every change another till sent over the shop's network that this till did not apply (the same rules
 * as the server's, checked here). The code and reason are folded under "Details" for whoever fixes it.
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
  const fromPeers = rows.some((row) => row.author !== undefined);
  return (
    <section className="refused" aria-labelledby="refused-title" data-testid="refused-writes">
      <h2 id="refused-title">
        {fromPeers ? 'Not accepted' : 'Not accepted by the server'}{' '}
        <span className="count">{rows.length}</span>
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
              <div className="refused-reason">
                {reason}{' '}
                {row.author === undefined
                  ? 'It was undone on this till.'
                  : `It came from ${tillName(row.author)} and was not applied on this till.`}
              </div>
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

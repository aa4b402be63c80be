import { q } from '@loam/core';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { checkout, type Sale } from '../app/checkout';
import { useLiveQuery, useNow, useRefusedWrites, useSyncStatus } from '../app/live';
import type { ShopDatabase } from '../app/shop-database';
import type { TerminalSession } from '../app/terminal-session';
import { addToCart, type Cart, changeQuantity, setQuantity } from '../shop/cart';
import { formatCents } from '../shop/money';
import type { Product } from '../shop/schema';
import { CartPanel } from './cart-panel';
import { ALL, Catalog } from './catalog';
import { OrderHistory } from './order-history';
import { ProductDialog } from './product-dialog';
import { RefusedWritesPanel } from './refused-writes';
import { SyncStatusBar } from './sync-status';

/** App props. */
export interface AppProps {
  readonly db: ShopDatabase;
  readonly session: TerminalSession;
}

type View = 'sell' | 'orders';

function typingIn(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))
  );
}

/** The till: header with sync status, catalog or order history on the left, the sale and refusals on the right. */
export function App({ db, session }: AppProps) {
  const stores = useLiveQuery(db, 'stores', { filter: q.eq('id', session.storeId) });
  const products = useLiveQuery(db, 'products', { sort: [q.asc('name')] });
  const orders = useLiveQuery(db, 'orders', {
    filter: q.eq('storeId', session.storeId),
    sort: [q.desc('createdAt')],
    limit: 200,
  });
  const status = useSyncStatus(db);
  const refused = useRefusedWrites(db);
  const now = useNow(30_000);

  const [view, setView] = useState<View>('sell');
  const [category, setCategory] = useState(ALL);
  const [search, setSearch] = useState('');
  const [cart, setCart] = useState<Cart>([]);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [lastSale, setLastSale] = useState<Sale | undefined>(undefined);
  const [saleError, setSaleError] = useState<string | undefined>(undefined);
  const [detailsOf, setDetailsOf] = useState<string | undefined>(undefined);
  const searchRef = useRef<HTMLInputElement>(null);
  const gridRef = useRef<HTMLUListElement>(null);

  const store = stores?.[0];
  const currency = store?.currency ?? 'EUR';
  const productsById = useMemo(
    () => new Map<string, Product>((products ?? []).map((p) => [p.id, p])),
    [products],
  );
  const detailProduct = detailsOf === undefined ? undefined : productsById.get(detailsOf);

  const add = useCallback((product: Product) => {
    setCart((c) => addToCart(c, product));
    setSelected(product.id);
    setLastSale(undefined);
  }, []);

  const change = useCallback((productId: string, delta: number) => {
    setCart((c) => changeQuantity(c, productId, delta));
  }, []);

  const charge = useCallback(async () => {
    if (cart.length === 0 || busy) return;
    setBusy(true);
    setSaleError(undefined);
    try {
      const sale = await checkout(db, session, cart, note);
      setCart([]);
      setNote('');
      setSelected(undefined);
      setLastSale(sale);
      searchRef.current?.focus();
    } catch (error) {
      setSaleError(`The sale was not recorded: ${(error as Error).message}`);
    } finally {
      setBusy(false);
    }
  }, [cart, busy, db, session, note]);

  const onKey = useRef<(event: KeyboardEvent) => void>(() => undefined);
  onKey.current = (event: KeyboardEvent) => {
    if ((event.key === 'Enter' && (event.ctrlKey || event.metaKey)) || event.key === 'F9') {
      event.preventDefault();
      void charge();
      return;
    }
    if (event.key === 'F2' || (event.key === '/' && !typingIn(event.target))) {
      event.preventDefault();
      setView('sell');
      searchRef.current?.focus();
      return;
    }
    if (typingIn(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    const line = selected ?? cart.at(-1)?.productId;
    if (line === undefined) return;
    if (event.key === '+' || event.key === '=') {
      event.preventDefault();
      change(line, 1);
    } else if (event.key === '-') {
      event.preventDefault();
      change(line, -1);
    }
  };
  useEffect(() => {
    const listener = (event: KeyboardEvent) => onKey.current(event);
    window.addEventListener('keydown', listener);
    return () => window.removeEventListener('keydown', listener);
  }, []);

  const describe = useCallback(
    (collection: string, doc: string) =>
      collection === 'products'
        ? productsById.get(doc)?.name
        : collection === 'orders'
          ? orders?.find((o) => o.id === doc)?.number
          : undefined,
    [productsById, orders],
  );

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            L
          </span>
          <div>
            <h1>{store?.name ?? 'Loam POS'}</h1>
            <p className="muted">
              Till {session.terminal} · {session.cashier}
            </p>
          </div>
        </div>
        <SyncStatusBar
          status={status}
          onRetry={() => {
            db.sync
              .stop()
              .then(() => db.sync.start())
              .catch((error: unknown) => console.warn(`Sync did not restart: ${(error as Error).message}`));
          }}
        />
      </header>

      <main className="workspace">
        <section className="left" aria-label="Catalog and orders">
          <div className="tabs" role="tablist" aria-label="View">
            {(['sell', 'orders'] as const).map((v) => (
              <button
                key={v}
                id={`tab-${v}`}
                type="button"
                role="tab"
                aria-selected={view === v}
                aria-controls={`panel-${v}`}
                tabIndex={view === v ? 0 : -1}
                onClick={() => setView(v)}
                onKeyDown={(e) => {
                  if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                    const next = v === 'sell' ? 'orders' : 'sell';
                    setView(next);
                    document.getElementById(`tab-${next}`)?.focus();
                  }
                }}
              >
                {v === 'sell' ? 'Catalog' : `Orders${orders ? ` (${orders.length})` : ''}`}
              </button>
            ))}
          </div>
          <div id={`panel-${view}`} role="tabpanel" aria-labelledby={`tab-${view}`} className="panel">
            {view === 'sell' ? (
              <Catalog
                products={products}
                currency={currency}
                category={category}
                search={search}
                searchRef={searchRef}
                gridRef={gridRef}
                onCategory={setCategory}
                onSearch={setSearch}
                onAdd={add}
                onDetails={(p) => setDetailsOf(p.id)}
                onQuantityKey={(delta) => {
                  const line = selected ?? cart.at(-1)?.productId;
                  if (line !== undefined) change(line, delta);
                }}
              />
            ) : (
              <OrderHistory orders={orders} currency={currency} now={now} />
            )}
          </div>
        </section>

        <aside className="right" aria-label="Sale">
          <CartPanel
            cart={cart}
            currency={currency}
            note={note}
            selected={selected}
            busy={busy}
            onSelect={setSelected}
            onChange={change}
            onRemove={(id) => setCart((c) => setQuantity(c, id, 0))}
            onNote={setNote}
            onCheckout={() => void charge()}
            onClear={() => setCart([])}
          >
            <div className="sale-message" role="status" aria-live="polite" data-testid="sale-message">
              {saleError ? (
                <span className="tone-bad">{saleError}</span>
              ) : lastSale ? (
                <span>
                  Sale <strong>{lastSale.number}</strong> recorded · {formatCents(lastSale.total, currency)}
                </span>
              ) : null}
            </div>
          </CartPanel>
          <RefusedWritesPanel rows={refused} describe={describe} />
        </aside>
      </main>

      <footer className="shortcuts">
        <kbd>/</kbd> search · <kbd>Enter</kbd> add first match · <kbd>+</kbd> <kbd>−</kbd> quantity ·{' '}
        <kbd>Ctrl</kbd>+<kbd>Enter</kbd> charge
      </footer>

      {detailProduct ? (
        <ProductDialog
          product={detailProduct}
          currency={currency}
          onClose={() => setDetailsOf(undefined)}
          onAdd={(p) => {
            add(p);
            setDetailsOf(undefined);
          }}
          onSetPrice={(p, cents) => db.collection('products').update(p.id, { price: cents })}
        />
      ) : null}
    </div>
  );
}

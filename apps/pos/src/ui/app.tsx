import { q } from '@loam/core';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { checkout, type Sale, type Seller, voidSale } from '../app/checkout';
import { rememberSynced, savedLastSynced } from '../app/device';
import { useCan, useDoc, usePeers, useQuery, useRefusedWrites, useSyncStatus } from '../app/loam';
import type { ShopDatabase } from '../app/shop-database';
import { addToCart, type Cart, cartTotals, changeQuantity, setQuantity } from '../shop/cart';
import { formatCents } from '../shop/money';
import type { Payment } from '../shop/payment';
import { dayOf } from '../shop/report';
import type { Product, Store } from '../shop/schema';
import { CartPanel } from './cart-panel';
import { ALL, Catalog } from './catalog';
import { DayReport } from './day-report';
import { OrderHistory } from './order-history';
import { PaymentDialog } from './payment-dialog';
import { ProductDialog } from './product-dialog';
import { ReceiptDialog } from './receipt';
import { RefusedWritesPanel } from './refused-writes';
import { SyncStatusBar } from './sync-status';
import { useNow } from './use-now';

/** App props. */
export interface AppProps {
  /** The till's database (also given to the `LoamProvider` around the app, which the hooks read). */
  readonly db: ShopDatabase;
  readonly seller: Seller;
}

type View = 'sell' | 'orders' | 'report';
const VIEWS: readonly { id: View; label: string }[] = [
  { id: 'sell', label: 'Sell' },
  { id: 'orders', label: 'Orders' },
  { id: 'report', label: 'Day report' },
];

/** Whether a keystroke goes to a text field (or an open dialog), not to the till's shortcuts. */
function typingIn(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))
  );
}
const dialogOpen = () => document.querySelector('dialog[open]') !== null;

/** The receipt of order `orderId`, read live (a void also names the sale it reverses). */
function ReceiptOf(props: {
  readonly orderId: string;
  readonly store: Store | undefined;
  readonly currency: string;
  readonly closeLabel: string;
  readonly onClose: () => void;
}) {
  const order = useDoc('orders', props.orderId);
  const voided = useDoc('orders', order.data?.voidOf);
  if (!order.data) return null;
  return (
    <ReceiptDialog
      order={order.data}
      store={props.store}
      currency={props.currency}
      closeLabel={props.closeLabel}
      onClose={props.onClose}
      {...(voided.data ? { voidOfNumber: voided.data.number } : {})}
    />
  );
}

/**
 * The till: header with the sync status; on the left the catalog, the store's orders or the day report; on the
 * right the current sale and what the server refused.
 */
export function App({ db, seller }: AppProps) {
  const stores = useQuery('stores', { filter: q.eq('id', seller.storeId) });
  const products = useQuery('products', { sort: [q.asc('name')] });
  const status = useSyncStatus();
  const peers = usePeers();
  const refused = useRefusedWrites();
  const now = useNow(30_000);
  const day = useMemo(() => dayOf(now), [now]);
  const canVoid = useCan('orders', {
    action: 'insert',
    doc: {
      storeId: seller.storeId,
      number: '',
      cashier: seller.cashier,
      terminal: seller.terminal,
      createdAt: new Date(day.start),
      lines: [],
      total: 0,
      itemCount: 0,
      note: '',
      kind: 'void',
    },
  });

  const [view, setView] = useState<View>('sell');
  const [category, setCategory] = useState(ALL);
  const [search, setSearch] = useState('');
  const [cart, setCart] = useState<Cart>([]);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [note, setNote] = useState('');
  const [paying, setPaying] = useState(false);
  const [lastSale, setLastSale] = useState<Sale | undefined>(undefined);
  const [receipt, setReceipt] = useState<{ orderId: string; closeLabel: string } | undefined>(undefined);
  const [detailsOf, setDetailsOf] = useState<string | undefined>(undefined);
  const [lastSynced, setLastSynced] = useState(() => savedLastSynced(localStorage, seller.terminal));
  const searchRef = useRef<HTMLInputElement>(null);
  const gridRef = useRef<HTMLUListElement>(null);

  const syncedAt = status?.lastSyncedAt ?? null;
  useEffect(() => {
    if (syncedAt === null) return;
    rememberSynced(localStorage, seller.terminal, syncedAt);
    setLastSynced(syncedAt);
  }, [syncedAt, seller.terminal]);

  const store = stores.data?.[0];
  const currency = store?.currency ?? 'EUR';
  const productsById = useMemo(
    () => new Map<string, Product>((products.data ?? []).map((p) => [p.id, p])),
    [products.data],
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

  const startPayment = useCallback(() => {
    if (cart.length > 0) setPaying(true);
  }, [cart.length]);

  const pay = useCallback(
    async (payment: Payment) => {
      const sale = await checkout(db, seller, cart, note, payment);
      setPaying(false);
      setCart([]);
      setNote('');
      setSelected(undefined);
      setLastSale(sale);
      setReceipt({ orderId: sale.orderId, closeLabel: 'New sale' });
    },
    [db, seller, cart, note],
  );

  const onKey = useRef<(event: KeyboardEvent) => void>(() => undefined);
  onKey.current = (event: KeyboardEvent) => {
    if (dialogOpen()) return;
    if ((event.key === 'Enter' && (event.ctrlKey || event.metaKey)) || event.key === 'F9') {
      event.preventDefault();
      startPayment();
      return;
    }
    if (event.key === 'F2' || (event.key === '/' && !typingIn(event.target))) {
      event.preventDefault();
      setView('sell');
      queueMicrotask(() => searchRef.current?.focus());
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
      collection === 'products' ? productsById.get(doc)?.name : undefined,
    [productsById],
  );
  const totals = cartTotals(cart);

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
              Till {seller.terminal} · {seller.cashier}
            </p>
          </div>
        </div>
        <SyncStatusBar
          status={status}
          peers={peers ?? []}
          lastSynced={lastSynced}
          now={now}
          onRetry={() => {
            db.sync
              .stop()
              .then(() => db.sync.start())
              .catch((error: unknown) => console.warn(`Sync did not restart: ${(error as Error).message}`));
          }}
        />
      </header>

      <main className="workspace">
        <section className="left" aria-label="Catalog, orders and reports">
          <div className="tabs" role="tablist" aria-label="View">
            {VIEWS.map(({ id, label }, i) => (
              <button
                key={id}
                id={`tab-${id}`}
                type="button"
                role="tab"
                aria-selected={view === id}
                aria-controls={`panel-${id}`}
                tabIndex={view === id ? 0 : -1}
                onClick={() => setView(id)}
                onKeyDown={(e) => {
                  if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
                  const next = VIEWS[(i + (e.key === 'ArrowRight' ? 1 : VIEWS.length - 1)) % VIEWS.length];
                  if (!next) return;
                  setView(next.id);
                  document.getElementById(`tab-${next.id}`)?.focus();
                }}
              >
                {label}
              </button>
            ))}
          </div>
          <div id={`panel-${view}`} role="tabpanel" aria-labelledby={`tab-${view}`} className="panel">
            {view === 'sell' ? (
              <Catalog
                products={products.data}
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
            ) : view === 'orders' ? (
              <OrderHistory
                storeId={seller.storeId}
                currency={currency}
                day={day}
                canVoid={canVoid}
                onReceipt={(o) => setReceipt({ orderId: o.id, closeLabel: 'Close' })}
                onVoid={async (o) => {
                  const done = await voidSale(db, seller, o);
                  setReceipt({ orderId: done.orderId, closeLabel: 'Close' });
                }}
              />
            ) : (
              <DayReport
                storeId={seller.storeId}
                storeName={store?.name ?? 'This store'}
                terminal={seller.terminal}
                currency={currency}
                day={day}
                printable={receipt === undefined}
              />
            )}
          </div>
        </section>

        <aside className="right" aria-label="Sale">
          <CartPanel
            cart={cart}
            currency={currency}
            note={note}
            selected={selected}
            busy={paying}
            onSelect={setSelected}
            onChange={change}
            onRemove={(id) => setCart((c) => setQuantity(c, id, 0))}
            onNote={setNote}
            onCheckout={startPayment}
            onClear={() => setCart([])}
          >
            <div className="sale-message" role="status" aria-live="polite" data-testid="sale-message">
              {lastSale ? (
                <span>
                  Sale <strong>{lastSale.number}</strong> recorded · {formatCents(lastSale.total, currency)}
                  {lastSale.change !== undefined ? ` · change ${formatCents(lastSale.change, currency)}` : ''}
                  {lastSale.payment === 'card' ? ' · card' : ''}
                </span>
              ) : null}
            </div>
          </CartPanel>
          <RefusedWritesPanel rows={refused.data ?? []} describe={describe} />
        </aside>
      </main>

      <footer className="shortcuts">
        <kbd>/</kbd> search · <kbd>Enter</kbd> add first match · <kbd>+</kbd> <kbd>−</kbd> quantity ·{' '}
        <kbd>Ctrl</kbd>+<kbd>Enter</kbd> pay
      </footer>

      {paying ? (
        <PaymentDialog
          total={totals.total}
          itemCount={totals.itemCount}
          currency={currency}
          onPay={pay}
          onClose={() => setPaying(false)}
        />
      ) : null}
      {receipt ? (
        <ReceiptOf
          orderId={receipt.orderId}
          store={store}
          currency={currency}
          closeLabel={receipt.closeLabel}
          onClose={() => {
            setReceipt(undefined);
            queueMicrotask(() => searchRef.current?.focus());
          }}
        />
      ) : null}
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

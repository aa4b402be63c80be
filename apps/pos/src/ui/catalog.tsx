import { type KeyboardEvent, type RefObject, useMemo } from 'react';
import { formatCents } from '../shop/money';
import type { Product } from '../shop/schema';

/** The category filter value that shows every product. */
export const ALL = 'All';

/** Products of `category` (or all) whose name contains `search` or whose SKU starts with it, case-insensitively. */
export function filterProducts(products: readonly Product[], category: string, search: string): Product[] {
  const needle = search.trim().toLowerCase();
  return products.filter(
    (p) =>
      (category === ALL || p.category === category) &&
      (needle === '' || p.name.toLowerCase().includes(needle) || (p.sku ?? '').startsWith(needle)),
  );
}

function stockLabel(stock: number): { text: string; tone: string } {
  if (stock <= 0) return { text: stock < 0 ? `${stock} in stock` : 'Out of stock', tone: 'bad' };
  if (stock <= 5) return { text: `${stock} left`, tone: 'warn' };
  return { text: `${stock} in stock`, tone: 'ok' };
}

/** True when typing would replace everything in `input` (it is empty, or all selected after adding a match). */
function wholeTextSelected(input: HTMLInputElement): boolean {
  return input.value === '' || (input.selectionStart === 0 && input.selectionEnd === input.value.length);
}

/** Moves focus between tiles with the arrow keys (a grid of `columns`). */
function moveFocus(event: KeyboardEvent<HTMLElement>, grid: HTMLElement | null): void {
  const keys: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1 };
  const tiles = grid ? [...grid.querySelectorAll<HTMLButtonElement>('button.tile-add')] : [];
  const index = tiles.indexOf(event.target as HTMLButtonElement);
  if (index === -1 || !grid) return;
  const columns = getComputedStyle(grid).gridTemplateColumns.split(' ').length;
  const step =
    keys[event.key] ?? (event.key === 'ArrowDown' ? columns : event.key === 'ArrowUp' ? -columns : 0);
  if (step === 0) return;
  event.preventDefault();
  tiles[Math.max(0, Math.min(tiles.length - 1, index + step))]?.focus();
}

/** Catalog props. */
export interface CatalogProps {
  readonly products: readonly Product[] | undefined;
  readonly currency: string;
  readonly category: string;
  readonly search: string;
  readonly searchRef: RefObject<HTMLInputElement | null>;
  readonly gridRef: RefObject<HTMLUListElement | null>;
  readonly onCategory: (category: string) => void;
  readonly onSearch: (search: string) => void;
  readonly onAdd: (product: Product) => void;
  readonly onDetails: (product: Product) => void;
  /** `+` (and `-` in an empty search box) change the quantity of the current cart line. */
  readonly onQuantityKey: (delta: number) => void;
}

/**
 * The catalog: category filter, search (Enter adds the first match, `+`/`-` change its quantity
 * while the search text is selected) and a grid of
 * product tiles (arrow keys move between them).
 */
export function Catalog(props: CatalogProps) {
  const { products, currency, category, search, searchRef, gridRef } = props;
  const categories = useMemo(
    () => [ALL, ...new Set((products ?? []).map((p) => p.category).sort())],
    [products],
  );
  const shown = useMemo(() => filterProducts(products ?? [], category, search), [products, category, search]);

  return (
    <div className="catalog">
      <div className="catalog-tools">
        <label className="search">
          <span className="visually-hidden">Search products</span>
          <input
            ref={searchRef}
            type="search"
            placeholder="Search by name or SKU   ( / )"
            value={search}
            autoComplete="off"
            onChange={(e) => props.onSearch(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey && shown[0]) {
                e.preventDefault();
                props.onAdd(shown[0]);
                e.currentTarget.select();
              } else if (e.key === 'ArrowDown') {
                e.preventDefault();
                gridRef.current?.querySelector<HTMLButtonElement>('button.tile-add')?.focus();
              } else if (e.key === 'Escape') props.onSearch('');
              else if (e.key === '+' || (e.key === '-' && wholeTextSelected(e.currentTarget))) {
                e.preventDefault();
                props.onQuantityKey(e.key === '+' ? 1 : -1);
              }
            }}
          />
        </label>
        <fieldset className="categories">
          <legend className="visually-hidden">Category</legend>
          {categories.map((c) => (
            <button
              key={c}
              type="button"
              className="chip"
              aria-pressed={c === category}
              onClick={() => props.onCategory(c)}
            >
              {c}
            </button>
          ))}
        </fieldset>
      </div>
      {products === undefined ? (
        <p className="muted pad">Loading the catalog…</p>
      ) : shown.length === 0 ? (
        <p className="muted pad">
          {products.length === 0
            ? 'The catalog is empty: it arrives from the back office when this till syncs.'
            : `No product matches “${search}”.`}
        </p>
      ) : (
        <ul
          className="grid"
          ref={gridRef}
          aria-label="Products"
          onKeyDown={(e) => moveFocus(e, gridRef.current)}
        >
          {shown.map((p) => {
            const stock = stockLabel(p.stock);
            return (
              <li key={p.id} className="tile" data-category={p.category}>
                <button
                  type="button"
                  className="tile-add"
                  aria-label={`Add ${p.name}, ${formatCents(p.price, currency)}, ${stock.text}`}
                  onClick={() => props.onAdd(p)}
                >
                  <span className="tile-name">{p.name}</span>
                  <span className="tile-price">{formatCents(p.price, currency)}</span>
                  <span className={`tile-stock tone-${stock.tone}`}>{stock.text}</span>
                </button>
                <button
                  type="button"
                  className="tile-info"
                  aria-label={`Details of ${p.name}`}
                  onClick={() => props.onDetails(p)}
                >
                  i
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

/**
 * What a lean `_state` (see `state-codec.ts`) points at: a collection's scalar columns in the table's physical order,
 * the value a register or counter has when its column holds it, and whether a column gives a value back exactly.
 */
import type { FieldDef } from '@loam/core';
import { unpackTimestamp } from '@loam/core';
import type { SqlValue } from '../storage/driver';

/** A scalar leaf's column, in the table's physical order. */
export interface ColumnSql {
  readonly path: string;
  readonly def: FieldDef;
}

/** What the lean encoding needs of a collection: its columns in physical order, and each one's ordinal by path. */
export interface LeanColumns {
  readonly table: string;
  /** The scalar leaves' columns, in the table's physical order (the ordinals lean `_state` points at). */
  readonly columns: readonly ColumnSql[];
  /** Ordinal of each column by path. */
  readonly columnIndex: ReadonlyMap<string, number>;
}

/** The value a register of a column of kind `kind` has when the column holds `stored` (undefined: none). */
export function fromColumn(kind: FieldDef['kind'], stored: SqlValue | undefined): unknown {
  if (stored === null || stored === undefined) return stored;
  switch (kind) {
    case 'boolean':
      return stored === 1 ? true : stored === 0 ? false : undefined;
    case 'date':
      return typeof stored === 'number' ? new Date(stored) : undefined;
    case 'number':
    case 'counter':
      return typeof stored === 'number' ? stored : undefined;
    default:
      return typeof stored === 'string' ? stored : undefined;
  }
}

/** True when a column holding `stored` gives back exactly `value` once written and read back. */
export function columnHolds(kind: FieldDef['kind'], stored: SqlValue, value: unknown): boolean {
  if (typeof stored === 'number' && (Object.is(stored, -0) || Number.isNaN(stored))) return false;
  if (typeof stored === 'string' && !stored.isWellFormed()) return false;
  const back = fromColumn(kind, stored);
  if (value instanceof Date) return back instanceof Date && back.getTime() === value.getTime();
  return back !== undefined && Object.is(back, value);
}

/** A packed timestamp read from `_state` (throws when it is not one). */
export function unpackStored(bytes: Uint8Array): string {
  const t = unpackTimestamp(bytes);
  if (t === undefined) throw new Error('Malformed packed timestamp in _state');
  return t;
}

/** The ordinal of the column of counter `field` when it holds `value` (see `columnHolds`), else -1. */
export function counterPointer(
  c: LeanColumns,
  field: string,
  stored: readonly SqlValue[],
  offset: number,
  value: number,
): number {
  const j = c.columnIndex.get(field);
  return j !== undefined && columnHolds('counter', stored[offset + j] as SqlValue, value) ? j : -1;
}

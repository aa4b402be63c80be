/**
 * Test page of `@loam/react` (browser tests): opens the database named by `?db=` (with `?sync=<relay
 * url>&token=<jwt>`, synced with that relay), renders components using the hooks under `<StrictMode>`, and exposes
 * `globalThis.hooksApp` for Playwright to mount and unmount them and read what they rendered. It counts the
 * `watch`/`unwatch` calls the page makes to its database worker. Not part of the package's API.
 */
import { openDatabase } from '@loam/client';
import { asDocId, type QueryOptions } from '@loam/core';
import { createDbWorker } from '@loam/db-worker';
import { StrictMode, useSyncExternalStore } from 'react';
import { createRoot } from 'react-dom/client';
import { activeQueryKeys, createLoamHooks } from '../src/index';
import { schema } from './hooks-schema';

const { LoamProvider, useQuery, useDoc, useAggregate, useSyncStatus, useRefusedWrites, useCan } =
  createLoamHooks(schema);

/** What a mounted component renders, as plain data: its result's status, and its data or error code. */
export interface Render {
  readonly status: string;
  readonly data?: unknown;
  readonly code?: string;
}

/** A component to mount: which hook it uses and with what. */
export type Probe =
  | { readonly kind: 'query'; readonly options?: QueryOptions }
  | { readonly kind: 'doc'; readonly id?: string }
  | { readonly kind: 'aggregate' }
  | { readonly kind: 'status' }
  | { readonly kind: 'refused' }
  | { readonly kind: 'can'; readonly id: string; readonly field: 'title' | 'pinned' };

const renders = new Map<string, Render[]>();
const calls = { watch: 0, unwatch: 0 };
let mounted: [string, Probe][] = [];
const listeners = new Set<() => void>();

function record(id: string, render: Render): null {
  const list = renders.get(id) ?? [];
  const last = list.at(-1);
  if (!last || JSON.stringify(last) !== JSON.stringify(render)) list.push(render);
  renders.set(id, list);
  return null;
}

function result(r: { status: string; data?: unknown; error?: { code: string } | undefined }): Render {
  return r.status === 'error'
    ? { status: 'error', code: r.error?.code ?? '' }
    : { status: r.status, data: r.data };
}

function QueryProbe({ id, options }: { id: string; options: QueryOptions }) {
  const notes = useQuery('notes', options);
  return record(id, { ...result(notes), data: notes.data?.map((n) => n.title) });
}
function DocProbe({ id, docId }: { id: string; docId: string | undefined }) {
  const note = useDoc('notes', docId);
  return record(id, { ...result(note), data: note.data === null ? null : note.data?.title });
}
function AggregateProbe({ id }: { id: string }) {
  const rows = useAggregate('notes', {
    groupBy: ['group'],
    aggregates: { count: { fn: 'count' }, sum: { fn: 'sum', field: 'n' } },
  });
  return record(id, result(rows));
}
function StatusProbe({ id }: { id: string }) {
  const status = useSyncStatus();
  return record(id, { status: status ? 'ready' : 'loading', data: status?.state });
}
function RefusedProbe({ id }: { id: string }) {
  const refused = useRefusedWrites();
  return record(id, { ...result(refused), data: refused.data?.map((r) => r.code) });
}
function CanProbe({ id, docId, field }: { id: string; docId: string; field: 'title' | 'pinned' }) {
  const note = useDoc('notes', docId);
  const doc = note.data ?? { id: asDocId(docId), title: '', n: 0, pinned: false };
  const allowed = useCan('notes', {
    action: 'update',
    doc,
    patch: { [field]: field === 'pinned' ? true : 'x' },
  });
  return record(id, { status: 'ready', data: allowed });
}

function Probes() {
  const list = useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => mounted,
  );
  return list.map(([id, probe]) => {
    switch (probe.kind) {
      case 'query':
        return <QueryProbe key={id} id={id} options={probe.options ?? {}} />;
      case 'doc':
        return <DocProbe key={id} id={id} docId={probe.id} />;
      case 'aggregate':
        return <AggregateProbe key={id} id={id} />;
      case 'status':
        return <StatusProbe key={id} id={id} />;
      case 'refused':
        return <RefusedProbe key={id} id={id} />;
      case 'can':
        return <CanProbe key={id} id={id} docId={probe.id} field={probe.field} />;
      default:
        return null;
    }
  });
}

const params = new URL(location.href).searchParams;
const syncUrl = params.get('sync');
const token = params.get('token');
const db = await openDatabase({
  name: params.get('db') ?? 'hooks',
  schema,
  worker: () => {
    const worker = createDbWorker();
    const post = worker.postMessage.bind(worker) as (message: unknown, transfer?: Transferable[]) => void;
    worker.postMessage = ((message: { type?: string; path?: string[] }, transfer?: Transferable[]) => {
      if (message?.type === 'APPLY' && message.path?.[0] === 'watch') calls.watch++;
      if (message?.type === 'APPLY' && message.path?.[0] === 'unwatch') calls.unwatch++;
      post(message, transfer);
    }) as Worker['postMessage'];
    return worker;
  },
  ...(syncUrl ? { sync: { url: syncUrl, getToken: async () => token } } : {}),
});

const element = document.getElementById('root');
if (!element) throw new Error('hooks.html lacks #root');
createRoot(element).render(
  <StrictMode>
    <LoamProvider db={db}>
      <Probes />
    </LoamProvider>
  </StrictMode>,
);

const app = {
  db,
  notes: db.collection('notes'),
  /** Mounts the component `id` (replacing one of the same id). */
  mount(id: string, probe: Probe) {
    mounted = [...mounted.filter(([other]) => other !== id), [id, probe]];
    for (const l of listeners) l();
  },
  unmount(...ids: string[]) {
    mounted = mounted.filter(([id]) => !ids.includes(id));
    for (const l of listeners) l();
  },
  /** Every distinct render of component `id`, in order. */
  renders: (id: string) => renders.get(id) ?? [],
  last: (id: string) => renders.get(id)?.at(-1),
  /** `watch` and `unwatch` calls made to the worker since the database opened. */
  workerCalls: () => ({ ...calls }),
  /** Keys of the queries the hooks keep running. */
  activeQueries: () => activeQueryKeys(db),
};

/** The API the test page exposes as `globalThis.hooksApp`. */
export type HooksApp = typeof app;

(globalThis as unknown as { hooksApp: HooksApp }).hooksApp = app;

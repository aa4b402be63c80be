/**
 * Rebuilds a live query's document list from the events of `Engine.watch` (used on the UI side, after the events
 * crossed the worker boundary). Pure: returns a new array; documents that did not change keep their identity, so
 * UI frameworks can skip re-rendering them.
 */
import type { Doc, LiveQueryEvent } from './engine';

/** Applies one `docs` event to the previous result. */
export function applyLiveEvent(previous: readonly Doc[], event: LiveQueryEvent & { kind: 'docs' }): Doc[] {
  if (event.reset) return event.docs;
  if (!event.order) {
    const changed = new Map<string, Doc>();
    for (const doc of event.upserts) changed.set(doc.id, doc);
    return previous.map((doc) => changed.get(doc.id) ?? doc);
  }
  const byId = new Map<string, Doc>();
  for (const doc of previous) byId.set(doc.id, doc);
  for (const doc of event.upserts) byId.set(doc.id, doc);
  return event.order.map((id) => {
    const doc = byId.get(id);
    if (!doc) throw new Error(`live query event names ${id} without its document`);
    return doc;
  });
}

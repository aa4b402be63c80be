/**
 * The leader worker's side of `channel-protocol.ts`: answers follower tabs' requests and streams their live
 * queries over the database's BroadcastChannel.
 */
import { type ChannelMessage, type FromLeader, isChannelMessage } from './channel-protocol';
import { serializeError } from './errors';
import type { DbRequestHandler, StorageReport, WatchEvent, WatchSpec } from './protocol';

/** The part of `BroadcastChannel` the channel code uses (a real one in browsers and Node). */
export interface ChannelPort {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

/** Options of {@link serveChannel}. */
export interface ChannelServerOptions {
  readonly channel: ChannelPort;
  /** This leadership's id: only messages addressed to it are served. */
  readonly leaderId: string;
  readonly storage: StorageReport;
  readonly handle: DbRequestHandler;
  /** Starts a live query or sync status subscription; returns its unsubscribe function. */
  readonly watch: (spec: WatchSpec, listener: (event: WatchEvent) => void) => () => void;
  /** Calls `gone` once tab `tabId` has closed (e.g. when its Web Lock is granted to us). Optional. */
  readonly watchTab?: (tabId: string, gone: () => void) => void;
}

/** A running channel server. */
export interface ChannelServer {
  /** Stops serving and ends every follower subscription; unanswered requests are resent by their tabs to the next leader. */
  close(): void;
}

/**
 * Serves follower tabs on `channel` and announces this leader at once (tabs that were waiting resend their
 * requests and subscriptions to it).
 */
export function serveChannel(options: ChannelServerOptions): ChannelServer {
  const { channel, leaderId } = options;
  const subscriptions = new Map<string, () => void>();
  const watchedTabs = new Set<string>();
  let closed = false;

  const post = (message: FromLeader) => {
    if (!closed) channel.postMessage(message);
  };
  const announce = () => post({ t: 'leader', leaderId, storage: options.storage });

  function dropTab(tabId: string): void {
    for (const [key, unsubscribe] of subscriptions) {
      if (key.startsWith(`${tabId}\u0000`)) {
        unsubscribe();
        subscriptions.delete(key);
      }
    }
  }

  function track(tabId: string): void {
    if (!options.watchTab || watchedTabs.has(tabId)) return;
    watchedTabs.add(tabId);
    options.watchTab(tabId, () => {
      watchedTabs.delete(tabId);
      dropTab(tabId);
    });
  }

  const onMessage = (event: MessageEvent) => {
    const message: unknown = event.data;
    if (closed || !isChannelMessage(message)) return;
    const m = message as ChannelMessage;
    switch (m.t) {
      case 'hello':
        announce();
        return;
      case 'bye':
        dropTab(m.from);
        return;
      case 'req':
        if (m.to !== leaderId) return;
        options.handle(m.request).then(
          (value) => post({ t: 'res', to: m.from, id: m.id, ok: true, value }),
          (error: unknown) =>
            post({ t: 'res', to: m.from, id: m.id, ok: false, error: serializeError(error) }),
        );
        return;
      case 'sub': {
        if (m.to !== leaderId) return;
        const key = `${m.from}\u0000${m.sub}`;
        subscriptions.get(key)?.();
        track(m.from);
        const unsubscribe = options.watch(m.spec, (event) =>
          post({ t: 'event', to: m.from, sub: m.sub, event }),
        );
        subscriptions.set(key, unsubscribe);
        return;
      }
      case 'unsub': {
        if (m.to !== leaderId) return;
        const key = `${m.from}\u0000${m.sub}`;
        subscriptions.get(key)?.();
        subscriptions.delete(key);
        return;
      }
      default:
        return;
    }
  };

  channel.addEventListener('message', onMessage);
  announce();
  return {
    close() {
      if (closed) return;
      closed = true;
      channel.removeEventListener('message', onMessage);
      for (const unsubscribe of subscriptions.values()) unsubscribe();
      subscriptions.clear();
    },
  };
}

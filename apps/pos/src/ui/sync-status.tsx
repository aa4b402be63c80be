import type { PeerView, SyncStatus } from '../app/shop-database';
import { describePeer } from './peer-text';

type Tone = 'ok' | 'warn' | 'bad' | 'idle';

/** Problems that mean "the server cannot be reached" (as opposed to "the server said no"). */
const UNREACHABLE = new Set(['connection_lost', 'ping_timeout', 'token_unavailable']);

/** What a cashier can do about a sync that stopped, by the server's error code. */
function stoppedBecause(status: SyncStatus): string {
  const code = status.lastError?.code ?? '';
  if (code.startsWith('auth_') || code === 'replica_mismatch')
    return "The server did not accept this till's sign-in: ask the manager to set it up again.";
  if (code === 'schema_mismatch' || code === 'protocol_version')
    return 'This till runs another version of the app than the server: reload the page to update it.';
  return status.lastError?.message ?? 'Sync stopped.';
}

/** How the till reads a sync status: a state a cashier understands, and what is going on. */
export function describeSync(status: SyncStatus | undefined): {
  text: string;
  tone: Tone;
  detail?: string;
  retry: boolean;
} {
  switch (status?.state) {
    case 'connected':
      return { text: 'Online', tone: 'ok', retry: false };
    case 'offline':
      return {
        text: 'Offline',
        tone: 'warn',
        detail: 'No network: sales are kept on this till',
        retry: false,
      };
    case 'connecting':
      return status.lastError && UNREACHABLE.has(status.lastError.code)
        ? { text: 'Offline', tone: 'warn', detail: 'Cannot reach the server: retrying', retry: true }
        : { text: 'Connecting…', tone: 'warn', retry: false };
    case 'failed':
      return { text: 'Sync stopped', tone: 'bad', detail: stoppedBecause(status), retry: true };
    case 'stopped':
      return { text: 'Sync off', tone: 'idle', retry: false };
    default:
      return { text: 'Starting…', tone: 'idle', retry: false };
  }
}

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const dayFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short' });

function syncedAt(at: number, now: number): string {
  const sameDay = new Date(at).toDateString() === new Date(now).toDateString();
  return sameDay ? timeFormat.format(at) : `${dayFormat.format(at)}, ${timeFormat.format(at)}`;
}

/** The store's other tills this one syncs with directly, each connected or last seen at. */
function PeerList({ peers }: { readonly peers: readonly PeerView[] }) {
  if (peers.length === 0) return null;
  return (
    <ul className="sync-peers" aria-label="Other tills" data-testid="peers">
      {peers.map((peer) => {
        const { name, text, connected } = describePeer(peer);
        return (
          <li
            key={peer.replica ?? `connection-${peer.id}`}
            className={connected ? 'peer connected' : 'peer'}
            data-testid="peer"
            data-state={peer.state}
          >
            <span className="dot" aria-hidden="true" />
            <strong>{name}</strong> {text}
          </li>
        );
      })}
    </ul>
  );
}

/**
 * The always-visible sync line of the header: online or offline, the other tills it syncs with directly, what
 * waits to upload, last synced.
 */
export function SyncStatusBar({
  status,
  peers,
  lastSynced,
  now,
  onRetry,
}: {
  readonly status: SyncStatus | undefined;
  /** The store's other tills (peers), connected or not. */
  readonly peers: readonly PeerView[];
  /** The last sync of this till, also from before a reload (ms since epoch), or null. */
  readonly lastSynced: number | null;
  readonly now: number;
  /** Reconnects now instead of waiting for the next retry. */
  readonly onRetry: () => void;
}) {
  const { text, tone, detail, retry } = describeSync(status);
  const pending = status?.pendingUploads ?? 0;
  return (
    <section className="sync-status" aria-label="Sync status" data-state={status?.state ?? 'unknown'}>
      <span className={`sync-pill tone-${tone}`} role="status" data-testid="sync-state">
        <span className="dot" aria-hidden="true" />
        {text}
      </span>
      <PeerList peers={peers} />
      <div className="sync-lines">
        <span className="sync-detail" data-testid="pending-uploads">
          {pending === 0
            ? 'All changes uploaded'
            : `${pending} change${pending === 1 ? '' : 's'} waiting to upload`}
          {status?.downloading
            ? ` · downloading ${status.downloading.sent} of ${status.downloading.total}`
            : ''}
        </span>
        <span className="sync-detail" data-testid="last-synced">
          {lastSynced ? `Last synced ${syncedAt(lastSynced, now)}` : 'Not synced yet'}
        </span>
      </div>
      {detail ? (
        <span className={tone === 'bad' ? 'sync-error' : 'sync-detail'} data-testid="sync-detail">
          {detail}
        </span>
      ) : null}
      {retry ? (
        <button type="button" className="sync-retry" onClick={onRetry}>
          Retry now
        </button>
      ) : null}
    </section>
  );
}

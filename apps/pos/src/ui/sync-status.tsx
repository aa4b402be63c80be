import type { SyncStatus } from '../app/shop-database';

/** How a sync state reads on the till. */
function stateLabel(status: SyncStatus | undefined): { text: string; tone: 'ok' | 'warn' | 'bad' | 'idle' } {
  switch (status?.state) {
    case 'connected':
      return { text: 'Online', tone: 'ok' };
    case 'connecting':
      return { text: 'Connecting…', tone: 'warn' };
    case 'offline':
      return { text: 'Offline', tone: 'warn' };
    case 'failed':
      return { text: 'Sync stopped', tone: 'bad' };
    case 'stopped':
      return { text: 'Sync off', tone: 'idle' };
    default:
      return { text: 'Starting…', tone: 'idle' };
  }
}

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** The always-visible sync line of the header: online/offline, uploads waiting, last synced. */
export function SyncStatusBar({
  status,
  onRetry,
}: {
  readonly status: SyncStatus | undefined;
  /** Reconnects now instead of waiting for the next retry. */
  readonly onRetry: () => void;
}) {
  const { text, tone } = stateLabel(status);
  const pending = status?.pendingUploads ?? 0;
  return (
    <section className="sync-status" aria-label="Sync status" data-state={status?.state ?? 'unknown'}>
      <span className={`sync-pill tone-${tone}`} role="status" data-testid="sync-state">
        <span className="dot" aria-hidden="true" />
        {text}
      </span>
      <span className="sync-detail" data-testid="pending-uploads">
        {pending === 0
          ? 'All sales uploaded'
          : `${pending} change${pending === 1 ? '' : 's'} waiting to upload`}
      </span>
      {status?.downloading ? (
        <span className="sync-detail">
          Downloading {status.downloading.sent} of {status.downloading.total}
        </span>
      ) : null}
      <span className="sync-detail" data-testid="last-synced">
        {status?.lastSyncedAt ? `Last synced ${timeFormat.format(status.lastSyncedAt)}` : 'Not synced yet'}
      </span>
      {status?.state === 'failed' && status.lastError ? (
        <span className="sync-error">{status.lastError.message}</span>
      ) : null}
      {status?.state === 'failed' || (status?.state === 'connecting' && status.lastError) ? (
        <button type="button" className="sync-retry" onClick={onRetry}>
          Retry now
        </button>
      ) : null}
    </section>
  );
}

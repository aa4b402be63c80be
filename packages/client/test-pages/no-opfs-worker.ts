/**
 * The database worker as a browser without OPFS sync access handles (e.g. Safari private browsing) runs it: the
 * storage must fall back to IndexedDB by itself. Test page support, not part of the package's API.
 */
delete (globalThis as { FileSystemSyncAccessHandle?: unknown }).FileSystemSyncAccessHandle;
await import('@loam/db-worker/worker');

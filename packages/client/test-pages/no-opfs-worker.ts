/**
 * The database worker as a browser without OPFS sync access handles (e.g. Safari private browsing) runs it: the
 * storage must fall back to IndexedDB by itself. The storage backend is chosen when the page calls `open`, which
 * is handled only after this module has run. Test page support, not part of the package's API.
 */
import '@loam/db-worker/worker';

delete (globalThis as { FileSystemSyncAccessHandle?: unknown }).FileSystemSyncAccessHandle;

/**
 * Types for the wa-sqlite example VFS classes that wa-sqlite@1.0.0 ships without declarations.
 * Only the members the storage driver uses are declared.
 */
declare module 'wa-sqlite/src/examples/AccessHandlePoolVFS.js' {
  import * as VFS from 'wa-sqlite/src/VFS.js';
  /** Synchronous OPFS VFS over a pool of pre-opened `FileSystemSyncAccessHandle`s in one directory. */
  export class AccessHandlePoolVFS extends VFS.Base {
    constructor(directoryPath: string);
    readonly name: string;
    /** Resolves once every access handle of the pool is open; rejects if OPFS refuses one. */
    readonly isReady: Promise<void>;
    close(): Promise<void>;
  }
}

declare module 'wa-sqlite/src/examples/OriginPrivateFileSystemVFS.js' {
  import * as VFS from 'wa-sqlite/src/VFS.js';
  /** Asyncify OPFS VFS: one OPFS file per SQLite file, access handles taken under Web Locks. */
  export class OriginPrivateFileSystemVFS extends VFS.Base {
    readonly name: string;
    close(): Promise<void>;
  }
}

declare module 'wa-sqlite/src/examples/IDBBatchAtomicVFS.js' {
  import * as VFS from 'wa-sqlite/src/VFS.js';
  /** Asyncify IndexedDB VFS using SQLite's batch-atomic writes: one IndexedDB transaction per SQLite commit. */
  export class IDBBatchAtomicVFS extends VFS.Base {
    constructor(
      idbDatabaseName?: string,
      options?: {
        durability?: 'default' | 'strict' | 'relaxed';
        purge?: 'deferred' | 'manual';
        purgeAtLeast?: number;
      },
    );
    readonly name: string;
    close(): Promise<void>;
  }
}

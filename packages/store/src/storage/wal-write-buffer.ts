/**
 * One file write per commit for the WAL of a synchronous VFS (AccessHandlePoolVFS).
 *
 * SQLite appends each WAL frame as two writes (a 24-byte frame header, then the page), so a commit of n pages costs
 * 2n `FileSystemSyncAccessHandle.write` calls, each with a fixed cost (profiled: half of a one-document commit on
 * OPFS). Here contiguous WAL writes are gathered in memory and reach the file as one write:
 * 1. **A commit is in the file before SQLite hears it succeeded.** The write of a commit frame's page (its header says
 *    so: a non-zero database size) writes everything gathered, and its result is the one SQLite gets, so a failed
 *    write (quota, I/O) fails the commit as before.
 * 2. **Nothing gathered is ever read around.** Any other call on the file (read, size, truncate, sync, close), and a
 *    write that does not follow the gathered bytes, writes them first; so does {@link WalWriteBuffer.flush}, which
 *    the driver calls at the end of every call.
 * Writes of other files (the database itself, at checkpoints) go straight through.
 */

/** The synchronous VFS methods this wraps (wa-sqlite's `VFS.Base`, as AccessHandlePoolVFS implements them). */
export interface SyncFileVfs {
  xOpen(name: string | null, fileId: number, flags: number, pOutFlags: DataView): number;
  xClose(fileId: number): number;
  xRead(fileId: number, pData: Uint8Array, iOffset: number): number;
  xWrite(fileId: number, pData: Uint8Array, iOffset: number): number;
  xTruncate(fileId: number, iSize: number): number;
  xSync(fileId: number, flags: number): number;
  xFileSize(fileId: number, pSize64: DataView): number;
}

/** The gathering installed on a VFS. */
export interface WalWriteBuffer {
  /** Writes whatever is gathered; returns SQLite's result code (0 when every write succeeded). */
  flush(): number;
}

const SQLITE_OK = 0;
const SQLITE_OPEN_WAL = 0x00080000;
const FRAME_HEADER_BYTES = 24;
/** Gathered bytes above which they are written (a bulk transaction's frames before its commit). */
const MAX_GATHERED = 1 << 20;

interface Gathered {
  readonly offset: number;
  readonly chunks: Uint8Array[];
  length: number;
  /** The last chunk is a commit frame's header: the next write (its page) ends the commit. */
  commit: boolean;
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Installs the gathering on `vfs` (its methods are replaced on the instance). */
export function bufferWalWrites(vfs: SyncFileVfs): WalWriteBuffer {
  const base = {
    xOpen: vfs.xOpen.bind(vfs),
    xClose: vfs.xClose.bind(vfs),
    xRead: vfs.xRead.bind(vfs),
    xWrite: vfs.xWrite.bind(vfs),
    xTruncate: vfs.xTruncate.bind(vfs),
    xSync: vfs.xSync.bind(vfs),
    xFileSize: vfs.xFileSize.bind(vfs),
  };
  const wal = new Set<number>();
  const gathered = new Map<number, Gathered>();

  const flushFile = (fileId: number): number => {
    const g = gathered.get(fileId);
    if (!g) return SQLITE_OK;
    gathered.delete(fileId);
    return base.xWrite(fileId, concat(g.chunks, g.length), g.offset);
  };
  /** Runs `call` on the file after writing what is gathered for it. */
  const after =
    <A extends unknown[]>(call: (fileId: number, ...args: A) => number) =>
    (fileId: number, ...args: A): number => {
      const rc = flushFile(fileId);
      return rc === SQLITE_OK ? call(fileId, ...args) : rc;
    };

  vfs.xOpen = (name, fileId, flags, pOutFlags) => {
    const rc = base.xOpen(name, fileId, flags, pOutFlags);
    if (rc === SQLITE_OK && (flags & SQLITE_OPEN_WAL) !== 0) wal.add(fileId);
    return rc;
  };
  vfs.xClose = (fileId) => {
    const rc = flushFile(fileId);
    wal.delete(fileId);
    const closed = base.xClose(fileId);
    return rc === SQLITE_OK ? closed : rc;
  };
  vfs.xWrite = (fileId, pData, iOffset) => {
    if (!wal.has(fileId)) return base.xWrite(fileId, pData, iOffset);
    let g = gathered.get(fileId);
    if (g && (g.offset + g.length !== iOffset || g.length + pData.byteLength > MAX_GATHERED)) {
      const rc = flushFile(fileId);
      if (rc !== SQLITE_OK) return rc;
      g = undefined;
    }
    if (!g) {
      g = { offset: iOffset, chunks: [], length: 0, commit: false };
      gathered.set(fileId, g);
    }
    // pData is a view of the wasm heap, reused as soon as this returns.
    g.chunks.push(pData.slice());
    g.length += pData.byteLength;
    if (g.commit) return flushFile(fileId);
    g.commit =
      pData.byteLength === FRAME_HEADER_BYTES &&
      new DataView(pData.buffer, pData.byteOffset, pData.byteLength).getUint32(4) !== 0;
    return SQLITE_OK;
  };
  vfs.xRead = after(base.xRead);
  vfs.xTruncate = after(base.xTruncate);
  vfs.xSync = after(base.xSync);
  vfs.xFileSize = after(base.xFileSize);

  return {
    flush() {
      let result = SQLITE_OK;
      for (const fileId of [...gathered.keys()]) {
        const rc = flushFile(fileId);
        if (result === SQLITE_OK) result = rc;
      }
      return result;
    },
  };
}

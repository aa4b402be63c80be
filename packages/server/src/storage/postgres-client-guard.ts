/**
 * A guard against one known defect of the `postgres` client (3.4.x, upstream issues #1154 and #1208, unfixed in
 * 3.4.9): when a connection dies while a transaction is in flight, `sql.begin` rejects as it should, but the
 * ROLLBACK it then writes is scheduled with `setImmediate` on the closed connection and throws
 * `TypeError: Cannot read properties of null (reading 'write')` from `nextWrite`, outside any promise, which
 * would take the whole relay down each time PostgreSQL restarts or drops a connection.
 *
 * The dropped write is moot (the transaction was already rejected and the server rolled it back when the
 * connection closed), so the guard swallows exactly that exception and nothing else. Any other uncaught
 * exception still ends the process with status 1 as Node's default would, unless the host installed its own
 * `uncaughtException` listener, which then decides. Remove this file once the client guards `nextWrite` itself.
 */

let installed = false;

/** True for the client's null-socket write (its message and its `nextWrite` frame in the client's source). */
export function isClosedSocketWrite(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    error.message.includes("reading 'write'") &&
    /nextWrite[^\n]*postgres[\\/]+(cjs[\\/]+)?src[\\/]+connection\.js/.test(error.stack ?? '')
  );
}

/** Installs the guard once per process. */
export function guardPostgresClient(): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (error) => {
    if (isClosedSocketWrite(error)) return;
    if (process.listenerCount('uncaughtException') > 1) return;
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

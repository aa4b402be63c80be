/**
 * `@loam/client`: the UI-side API of Loam. `openDatabase({ name, schema })` elects a leader tab (Web Locks) that
 * runs the database worker; every tab's collections, live queries, transactions and sync calls are served by it.
 */
export * from './channel-client';
export * from './connection';
export * from './database';
export * from './errors';
export * from './leader-election';
export * from './permissions';
export * from './sync';

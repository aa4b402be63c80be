/**
 * `@loam/react/testing`: what tests and debugging tools read of the hooks' shared live queries.
 */
export { activeQueryKeys } from './hooks';

/**
 * `@loam/store/testing`: the storage driver conformance suite (every driver runs it, in Node and in Chromium) and
 * its helpers, for tests of drivers and of stores built on them.
 */
export {
  type ConformanceCase,
  type ConformanceContext,
  ConformanceFailure,
  check,
  checkEqual,
  checkRejects,
  driverConformanceCases,
  runConformanceCase,
  withReopening,
} from './storage/driver-conformance';

// Preloaded into the relay by abuse.test.ts (node --expose-gc --require): on SIGUSR2, a full garbage collection,
// so the test compares memory the relay still holds, not garbage V8 has not had a reason to collect yet.
process.on('SIGUSR2', () => {
  global.gc();
  process.stdout.write('gc done\n');
});

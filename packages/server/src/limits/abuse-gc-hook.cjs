// Preloaded into the relay by abuse.test.ts and the abuse bench (node --expose-gc --require): on SIGUSR2, a full
// garbage collection, so they compare memory the relay still holds, not garbage V8 has not had a reason to collect
// yet; it prints `gc done` with the V8 heap in use and the young generation's size after it (MB), so a reading can
// say whether the RSS is objects the relay holds or space V8 keeps for the next ones.
const v8 = require('node:v8');
process.on('SIGUSR2', () => {
  global.gc();
  const mb = (bytes) => Math.round(bytes / 104857.6) / 10;
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  const used = mb(process.memoryUsage().heapUsed);
  process.stdout.write(
    `gc done ${JSON.stringify({ heapUsed: used, young: young && mb(young.physical_space_size) })}\n`,
  );
});

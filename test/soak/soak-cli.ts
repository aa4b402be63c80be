/**
 * `npm run soak -- --minutes N --clients 1000 --rate 500 [--shop 10] [--workers 4] [--kill-every 180] [--drain 900]`:
 * a soak run (see `soak.ts`) that prints its figures and exits non-zero when an acknowledged write was lost or stored twice,
 * or a terminal did not converge.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runSoak } from './soak';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    clients: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '500' },
    shop: { type: 'string', default: '10' },
    workers: { type: 'string', default: '4' },
    'kill-every': { type: 'string', default: '180' },
    drain: { type: 'string', default: '900' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'loam-soak-'));
const started = new Date().toISOString();
const report = await runSoak({
  dir,
  seconds: Number(values.minutes) * 60,
  clients: Number(values.clients),
  rate: Number(values.rate),
  shopSize: Number(values.shop),
  workers: Number(values.workers),
  killEveryMs: Number(values['kill-every']) * 1000,
  disconnectEveryMs: 1000,
  drainTimeoutMs: Number(values.drain) * 1000,
  log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
});
rmSync(dir, { recursive: true, force: true });
const f = (n: number) => n.toFixed(1);
console.log(
  `soak from ${started}: ${values.minutes} min, ${values.clients} terminals in ${report.workers} worker processes, ${values.rate} writes/s`,
);
console.log(`written ${report.written}, acknowledged ops/s ${f(report.ackedPerSecond)}`);
console.log(`ack p50 ${f(report.ackMs.p50)} ms, p99 ${f(report.ackMs.p99)} ms`);
console.log(`fan-out p50 ${f(report.fanOutMs.p50)} ms, p99 ${f(report.fanOutMs.p99)} ms`);
console.log(
  `relay RSS start ${f(report.relayRssMb.start)} MB, peak ${f(report.relayRssMb.peak)} MB, end ${f(report.relayRssMb.end)} MB`,
);
console.log(
  `relay kills ${report.relayKills}, disconnects ${report.disconnects}, drain ${f(report.drainMs / 1000)} s`,
);
console.log(`sync issues by code: ${JSON.stringify(report.issues)}`);
if (report.checkFailed) console.log(`final check against the relay failed: ${report.checkFailed}`);
console.log(`missing ${report.missing}, wrong ${report.wrong}, diverged terminals ${report.diverged}`);
process.exit(report.missing === 0 && report.wrong === 0 && report.diverged === 0 ? 0 : 1);

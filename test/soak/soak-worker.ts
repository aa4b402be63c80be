/**
 * A soak worker process (forked by `soak.ts`): holds the terminals `from`..`to` (`soak-terminals.ts`) and answers
 * the coordinator's messages over IPC: `start`, `stop` (writes), `check` (against the relay), `result`, `close`.
 */
import { openTerminals, type TerminalsOptions } from './soak-terminals';

/** A message from the coordinator. */
export type ToWorker =
  | { readonly t: 'start' }
  | { readonly t: 'stop' }
  | { readonly t: 'halt' }
  | { readonly t: 'check'; readonly id: number; readonly relayUrl: string; readonly full: boolean }
  | { readonly t: 'result' }
  | { readonly t: 'close' };

const options = JSON.parse(process.argv[2]!) as TerminalsOptions;
const send = (m: unknown) => process.send!(m);
const terminals = await openTerminals(options);
process.on('message', (m: ToWorker) => {
  void (async () => {
    try {
      if (m.t === 'start') terminals.startWriting();
      else if (m.t === 'stop') {
        await terminals.stopWriting();
        send({ t: 'stopped' });
      } else if (m.t === 'halt') {
        await terminals.halt();
        send({ t: 'halted' });
      } else if (m.t === 'check')
        send({ t: 'checked', id: m.id, check: await terminals.check(m.relayUrl, m.full) });
      else if (m.t === 'result') send({ t: 'result', result: terminals.result() });
      else if (m.t === 'close') {
        await terminals.close();
        send({ t: 'closed' });
        process.exit(0);
      }
    } catch (error) {
      // Fails this request only (the coordinator reports what it could check); the terminals stay open.
      const replyTo = {
        start: undefined,
        stop: 'stopped',
        halt: 'halted',
        check: `checked:${'id' in m ? m.id : ''}`,
        result: 'result',
        close: 'closed',
      }[m.t];
      send({ t: 'failed', replyTo, message: (error as Error).stack ?? String(error) });
    }
  })();
});
// The coordinator gone: nothing left to do.
process.on('disconnect', () => process.exit(1));
send({ t: 'ready', count: terminals.count });

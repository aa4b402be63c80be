/**
 * The arguments of the peers IPC channels, checked in full: by the preload before anything is sent, and again by
 * main, which trusts nothing the renderer sends. Imports nothing but the contract, so both bundles can include it.
 */
import { IpcChannel, type PeersStartOptions, type RosterAddressesInput } from './contract';

/** Largest signaling message, characters. */
export const MAX_SIGNAL_CHARS = 16_384;
const MAX_ROSTER = 256;
const MAX_ADDRESSES = 16;

/** The checked arguments of each peers channel. */
export type PeerArgs =
  | { readonly channel: typeof IpcChannel.peersStart; readonly options: PeersStartOptions }
  | { readonly channel: typeof IpcChannel.peersRoster; readonly peers: readonly RosterAddressesInput[] }
  | { readonly channel: typeof IpcChannel.peersPair; readonly address: string }
  | { readonly channel: typeof IpcChannel.peersSignal; readonly to: string; readonly data: string }
  | { readonly channel: typeof IpcChannel.peersList };

const isText = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const only = (o: Record<string, unknown>, keys: readonly string[]) =>
  Object.keys(o).every((k) => keys.includes(k));

/** Checks the arguments of a peers channel; a string says what is wrong. */
export function readPeerArgs(channel: string, args: readonly unknown[]): PeerArgs | string {
  switch (channel) {
    case IpcChannel.peersStart: {
      const o = args[0];
      if (args.length !== 1 || !isRecord(o) || !only(o, ['replica', 'storeHash']))
        return 'expected one object {replica, storeHash}';
      if (!isText(o.replica, 64) || !isText(o.storeHash, 128))
        return 'replica and storeHash must be non-empty strings (at most 64 and 128 characters)';
      return { channel, options: { replica: o.replica, storeHash: o.storeHash } };
    }
    case IpcChannel.peersRoster: {
      const list = args[0];
      if (args.length !== 1 || !Array.isArray(list) || list.length > MAX_ROSTER)
        return `expected one array of at most ${MAX_ROSTER} roster entries`;
      const peers: RosterAddressesInput[] = [];
      for (const p of list) {
        if (!isRecord(p) || !only(p, ['replica', 'addresses']) || !isText(p.replica, 64))
          return 'bad roster entry';
        if (
          !Array.isArray(p.addresses) ||
          p.addresses.length > MAX_ADDRESSES ||
          !p.addresses.every((a) => isText(a, 300))
        )
          return `a roster entry has at most ${MAX_ADDRESSES} addresses, each a string`;
        peers.push({ replica: p.replica, addresses: [...(p.addresses as string[])] });
      }
      return { channel, peers };
    }
    case IpcChannel.peersPair:
      return args.length === 1 && isText(args[0], 300)
        ? { channel, address: args[0] }
        : 'expected one address string';
    case IpcChannel.peersSignal:
      return args.length === 2 && isText(args[0], 64) && isText(args[1], MAX_SIGNAL_CHARS)
        ? { channel, to: args[0], data: args[1] }
        : `expected a replica and a signaling message of at most ${MAX_SIGNAL_CHARS} characters`;
    case IpcChannel.peersList:
      return args.length === 0 ? { channel } : 'takes no arguments';
    default:
      return 'not a peers channel';
  }
}

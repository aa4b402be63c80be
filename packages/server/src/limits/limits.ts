/**
 * What one connection, one address and one request may cost the relay, and the checks of the `limits` key of the
 * configuration.
 *
 * Invariants:
 * 1. **Cost bounded by size.** Every decoder of outside bytes (frames, ops, snapshots, HTTP bodies) refuses
 *    nesting deeper than its limit before it builds anything, so memory and time follow the input's size.
 * 2. **Small until signed in.** Before `hello` a frame may not exceed `preHelloFrameBytes`, and `hello` must come
 *    within `handshakeTimeoutMs`.
 * 3. **One address cannot crowd out the others.** An address holds at most `connectionsPerAddress` open
 *    connections and opens at most `handshakesPerSecond` a second (a burst of that many, refilled continuously);
 *    the upgrade is refused with 429 otherwise.
 * 4. **Each refusal has its own code** (`frame_too_large`, `frame_too_deep`, `handshake_timeout`,
 *    `too_many_connections`, `handshake_rate`, `too_many_subscriptions`, `subscription_invalid`, `body_too_large`,
 *    `body_too_deep`, `too_many_bad_frames`).
 * 5. **A user who keeps sending bad frames is cooled down.** A frame is read whole before it can be refused, and a
 *    fresh connection per frame dodges every per-connection limit: when a user's signed-in connections end on more
 *    than `badFramesPerMinute` refused frames (malformed, too deep, too large) within a minute, that user's hellos
 *    are refused with `too_many_bad_frames` for `badFrameCooldownMs` (see `bad-frames.ts`).
 */
import { ConfigError } from '../errors';

/** Limits enforced on every connection, address and HTTP request. */
export interface LimitsConfig {
  /** Largest frame accepted, bytes (and largest HTTP body). */
  readonly frameBytes: number;
  /** Largest frame accepted before `hello` was answered, bytes. */
  readonly preHelloFrameBytes: number;
  /** Time a new connection has to send `hello`, ms. */
  readonly handshakeTimeoutMs: number;
  /** Most ops in one pushed batch. */
  readonly opsPerBatch: number;
  /** Most simultaneous connections of one user. */
  readonly connectionsPerUser: number;
  /** Most simultaneous connections from one IP address. */
  readonly connectionsPerAddress: number;
  /** Most new connections one IP address may open per second. */
  readonly handshakesPerSecond: number;
  /** Most subscriptions one connection may hold. */
  readonly subscriptionsPerConnection: number;
  /** Most signed-in connections of one user a minute that may end on a refused frame (invariant 5). */
  readonly badFramesPerMinute: number;
  /** How long a user over `badFramesPerMinute` may not sign in, ms. */
  readonly badFrameCooldownMs: number;
}

/** Default of every limit. */
export const LIMIT_DEFAULTS: LimitsConfig = {
  frameBytes: 4 * 1024 * 1024,
  preHelloFrameBytes: 64 * 1024,
  handshakeTimeoutMs: 10_000,
  opsPerBatch: 1000,
  connectionsPerUser: 20,
  connectionsPerAddress: 1024,
  handshakesPerSecond: 200,
  subscriptionsPerConnection: 256,
  badFramesPerMinute: 3,
  badFrameCooldownMs: 60_000,
};

/** The range each limit accepts. */
const RANGES: { readonly [K in keyof LimitsConfig]: readonly [number, number] } = {
  frameBytes: [1024, 64 * 1024 * 1024],
  preHelloFrameBytes: [1024, 64 * 1024 * 1024],
  handshakeTimeoutMs: [100, 600_000],
  opsPerBatch: [1, 100_000],
  connectionsPerUser: [1, 100_000],
  connectionsPerAddress: [1, 1_000_000],
  handshakesPerSecond: [1, 1_000_000],
  subscriptionsPerConnection: [1, 100_000],
  badFramesPerMinute: [1, 1_000_000],
  badFrameCooldownMs: [1000, 3_600_000],
};

/** Checks the `limits` object of a configuration file; throws `ConfigError` naming the key at fault. */
export function parseLimits(input: unknown): LimitsConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ConfigError('limits', 'expected an object');
  const given = input as Record<string, unknown>;
  const keys = Object.keys(RANGES) as (keyof LimitsConfig)[];
  for (const k of Object.keys(given))
    if (!(keys as string[]).includes(k))
      throw new ConfigError(`limits.${k}`, `unknown key (known: ${keys.join(', ')})`);
  const out: Record<string, number> = {};
  for (const k of keys) {
    const v = given[k] ?? LIMIT_DEFAULTS[k];
    const [min, max] = RANGES[k];
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
      throw new ConfigError(
        `limits.${k}`,
        `expected an integer in ${min}..${max}, found ${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`,
      );
    out[k] = v as number;
  }
  if (out.preHelloFrameBytes! > out.frameBytes!)
    throw new ConfigError('limits.preHelloFrameBytes', 'must not exceed limits.frameBytes');
  return out as unknown as LimitsConfig;
}

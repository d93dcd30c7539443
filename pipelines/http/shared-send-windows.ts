import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { EtlError, messageOf } from '../core/errors.ts'
import { redactUrl } from '../core/secrets.ts'
import type { SendPace, SendTicket, SendWindow, SendWindowSource } from './request-limiter.ts'
import { sendKeyOf, watchRequestSends } from './request-sends.ts'

/** Redis keys of the windows: `calltouch-etl:send-window:calltouch@127.0.0.2`. */
export const SHARED_WINDOW_KEY_PREFIX = 'calltouch-etl:send-window:'

/**
 * How long a request that took a place but has not been sent yet holds it. A request's headers go
 * out within undici's connect timeout (10 s) or it fails and is counted from then; this only
 * frees the places of a process killed between taking a place and sending.
 */
export const PENDING_LEASE_MS = 30_000

/** A Redis that accepts the connection but does not answer fails the run after this, never hangs it. */
export const REDIS_COMMAND_TIMEOUT_MS = 10_000
export const REDIS_CONNECT_TIMEOUT_MS = 3_000

/**
 * Takes a place in the window KEYS[1] (a sorted set: member = a request, score = when its place
 * frees, in Redis's clock) if fewer than ARGV[1] are held; returns 0 when taken, else how many ms
 * until one may free. A place not yet sent frees no earlier than a window from now: when it is
 * sent (or fails) it counts from then.
 * ARGV: capacity, windowMs, leaseMs, member.
 */
const TAKE_PLACE_LUA = `
redis.replicate_commands()
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local capacity, window, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < capacity then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], lease + window)
  return 0
end
local first = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
return math.max(1, math.min(first, now + window) - now)
`

/**
 * The request ARGV[3] of window KEYS[1] was sent (or ended unsent): its place frees a window after
 * now, Redis's now, which is never before the send. ARGV: windowMs, leaseMs, member.
 */
const MARK_SENT_LUA = `
redis.replicate_commands()
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + window, ARGV[3])
redis.call('PEXPIRE', KEYS[1], lease + window)
return 0
`

interface WindowCommands {
  takeSendPlace(key: string, capacity: number, windowMs: number, leaseMs: number, member: string): Promise<number>
  markSendPlaceSent(key: string, windowMs: number, leaseMs: number, member: string): Promise<number>
}

export interface SharedSendWindowsConfig {
  /** `redis://host:6379` (CALLTOUCH_ETL_REDIS_URL). */
  readonly redisUrl: string
  /** What the budgets are shared by: the egress address (`127.0.0.2`), or `default` for processes that bind to none. */
  readonly egressKey: string
  /** The setting that named the URL, for messages. */
  readonly redisSetting?: string
}

/** Send windows kept in Redis, one per budget and egress address, shared by every process that sends from it. */
export interface SharedSendWindows extends SendWindowSource {
  /** The shared name of `budget`'s window: `calltouch@127.0.0.2`. */
  keyOf(budget: string): string
  /**
   * Aborted, with a one-line {@link EtlError}, once Redis fails a command or the connection
   * closes: the limits can no longer be shared, so whoever sends must stop (never go on
   * unlimited). It stays aborted.
   */
  readonly lost: AbortSignal
  /** Waits for the sends being recorded, then closes the connection. */
  close(): Promise<void>
}

/**
 * Connects to Redis and checks it answers; a Redis that does not is one line (exit 1) naming the
 * URL (password hidden) and the fix. Each window is a sliding log of sends in one sorted set,
 * changed only by two Lua scripts on Redis's clock, so processes on several machines agree on
 * time; a request counts from when undici writes its headers, as in the per-process window
 * (request-limiter.ts), because the libraries that share a limit through Redis (bottleneck's
 * clustering, rate-limiter-flexible) count a request when it is scheduled, and a process that
 * stalls between that and sending would burst at the server.
 *
 * @example
 * const shared = await connectSharedSendWindows({ redisUrl: 'redis://127.0.0.1:6379', egressKey: '127.0.0.2' })
 * const limiters = createRequestLimiters(budgets, shared) // Calltouch's 5 a second as calltouch@127.0.0.2
 * await shared.close()
 */
export async function connectSharedSendWindows(config: SharedSendWindowsConfig): Promise<SharedSendWindows> {
  const where = `Redis at ${redactUrl(config.redisUrl)} (${config.redisSetting ?? 'CALLTOUCH_ETL_REDIS_URL'})`
  // Loaded only by a process that shares its limits.
  const { Redis: RedisClient } = await import('ioredis')
  const redis: Redis = new RedisClient(config.redisUrl, {
    lazyConnect: true,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // A lost connection is the end of shared limits, never a queue of commands waiting for it.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  redis.defineCommand('takeSendPlace', { numberOfKeys: 1, lua: TAKE_PLACE_LUA })
  redis.defineCommand('markSendPlaceSent', { numberOfKeys: 1, lua: MARK_SENT_LUA })
  const commands = redis as unknown as WindowCommands
  const controller = new AbortController()
  let closing = false
  const lose = (error: unknown): EtlError => {
    if (!controller.signal.aborted)
      controller.abort(
        new EtlError(
          'FAILED',
          `the shared request limit is lost: ${where} stopped answering (${redisCause(error)}); the run stops rather than send unlimited: start Redis and run again`,
          { cause: error },
        ),
      )
    return controller.signal.reason as EtlError
  }
  // The connection's own error (ECONNREFUSED …): a failed command only says the connection is closed.
  let connectionError: unknown
  redis.on('error', (error: unknown) => {
    connectionError = error
    if (!closing) lose(error)
  })
  redis.on('close', () => {
    if (!closing) lose(new Error('connection closed'))
  })
  try {
    await redis.connect()
    await redis.ping()
  } catch (error) {
    closing = true
    redis.disconnect()
    throw new EtlError(
      'FAILED',
      `${where} does not answer (${redisCause(connectionError ?? error)}): start it, fix the URL, or unset the variable to limit requests per process`,
      { cause: error },
    )
  }
  const recording = new Set<Promise<unknown>>()
  const run = async <T>(command: () => Promise<T>): Promise<T> => {
    controller.signal.throwIfAborted()
    try {
      return await command()
    } catch (error) {
      throw lose(error)
    }
  }
  /** Records in the background; a failure stops the run through `lost`. */
  const record = (command: () => Promise<unknown>): void => {
    const done = run(command).catch(() => {})
    recording.add(done)
    void done.finally(() => recording.delete(done))
  }
  const keyOf = (budget: string): string => `${budget}@${config.egressKey}`
  const processId = randomUUID()
  let requestCount = 0
  return {
    keyOf,
    lost: controller.signal,
    windowFor(budget: string, { capacity, windowMs }: SendPace): SendWindow {
      const key = SHARED_WINDOW_KEY_PREFIX + keyOf(budget)
      const pending: { readonly sendKey: string; readonly member: string }[] = []
      const markSent = (place: { readonly member: string }): void =>
        record(() => commands.markSendPlaceSent(key, windowMs, PENDING_LEASE_MS, place.member))
      const stopWatching = watchRequestSends((sendKey) => {
        const index = pending.findIndex((place) => place.sendKey === sendKey)
        const place = pending[index]
        if (place === undefined) return
        pending.splice(index, 1)
        markSent(place)
      })
      return {
        async acquire(url: string): Promise<SendTicket> {
          requestCount += 1
          const place = { sendKey: sendKeyOf(url), member: `${processId}:${requestCount}` }
          for (;;) {
            const waitMs = await run(() =>
              commands.takeSendPlace(key, capacity, windowMs, PENDING_LEASE_MS, place.member),
            )
            if (waitMs === 0) break
            await sleep(waitMs)
          }
          pending.push(place)
          return {
            release() {
              const index = pending.indexOf(place)
              if (index === -1) return
              // Ended before its headers went out (or their send went unreported): it counts from now, the safe side.
              pending.splice(index, 1)
              markSent(place)
            },
          }
        },
        close: stopWatching,
      }
    },
    async close() {
      await Promise.all([...recording])
      closing = true
      await redis.quit().catch(() => redis.disconnect())
    },
  }
}

/** What Redis or the connection said, without a stack: `connect ECONNREFUSED 127.0.0.1:6390`. */
function redisCause(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  const message = messageOf(error)
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

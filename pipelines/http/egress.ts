import net from 'node:net'
import type { RequestInit as UndiciRequestInit } from 'undici'
import { EtlError, messageOf } from '../core/errors.ts'
import { connectSharedSendWindows, type SharedSendWindows } from './shared-send-windows.ts'

/** What the budgets of processes that bind to no address are shared as: `calltouch@default`. */
export const DEFAULT_EGRESS_KEY = 'default'

export interface EgressConfig {
  /** An IPv4 or IPv6 address of this machine that every API connection binds to; unset: the default route's. */
  readonly address?: string | undefined
  /** Redis where the budgets are counted for every process on the address; unset: each process counts its own. */
  readonly redisUrl?: string | undefined
  /** The settings that gave them, named in messages (`--egress-address`); the environment variables by default. */
  readonly settingNames?: { readonly address?: string; readonly redisUrl?: string }
}

/**
 * How a process's API requests leave it: from which address, and where their budgets are
 * counted. A vendor that limits per IP (Calltouch: 5 a second) sees every process sending from
 * one address as one client, so processes on one address share one count.
 */
export interface Egress {
  /** The address every connection binds to; undefined: the default route's. */
  readonly address: string | undefined
  /** `fetch` whose connections leave from {@link address} (Node's own fetch when none). */
  readonly fetch: typeof fetch
  /** The budgets' windows in Redis, shared as `calltouch@<address>`; undefined: this process counts alone. */
  readonly sharedWindows: SharedSendWindows | undefined
  /** Aborted with a one-line error when the shared count is lost (Redis gone): a run must stop. Never aborts without Redis. */
  readonly lost: AbortSignal
  /** For logs: `requests leave from 127.0.0.2; calltouch's limit is shared in Redis as calltouch@127.0.0.2`. */
  describe(budget: string): string
  close(): Promise<void>
}

/**
 * Checks the address is one of this machine's (one line, exit 2, when not), binds connections to
 * it, and connects to Redis when given one (one line, exit 1, when it does not answer). Open one
 * per run or worker and close it after: once lost it stays lost.
 *
 * @example
 * const egress = await openEgress({ address: '127.0.0.2', redisUrl: 'redis://127.0.0.1:6379' })
 * try { await syncJob(warehouse, request, { egress }) } finally { await egress.close() }
 */
export async function openEgress(config: EgressConfig = {}): Promise<Egress> {
  const addressSetting = config.settingNames?.address ?? 'CALLTOUCH_ETL_EGRESS_ADDRESS'
  const address = config.address === undefined ? undefined : normalizeAddress(config.address, addressSetting)
  if (address !== undefined) await requireLocalAddress(address, addressSetting)
  const bound = address === undefined ? undefined : await boundFetch(address)
  const sharedWindows =
    config.redisUrl === undefined
      ? undefined
      : await connectSharedSendWindows({
          redisUrl: config.redisUrl,
          egressKey: address ?? DEFAULT_EGRESS_KEY,
          redisSetting: config.settingNames?.redisUrl ?? 'CALLTOUCH_ETL_REDIS_URL',
        }).catch(async (error: unknown) => {
          await bound?.close()
          throw error
        })
  return {
    address,
    fetch: bound?.fetch ?? globalThis.fetch,
    sharedWindows,
    lost: sharedWindows?.lost ?? new AbortController().signal,
    describe(budget) {
      const from = `requests leave from ${address ?? 'the default route'}`
      return sharedWindows === undefined
        ? `${from}; ${budget}'s limit is counted by this process alone`
        : `${from}; ${budget}'s limit is shared in Redis as ${sharedWindows.keyOf(budget)}`
    },
    async close() {
      await Promise.all([sharedWindows?.close(), bound?.close()])
    },
  }
}

/** The address as written once parsed (`::1` for `0:0::1`), so that every process shares one key. */
function normalizeAddress(value: string, setting: string): string {
  const address = value.trim()
  const family = net.isIP(address)
  if (family === 0)
    throw new EtlError(
      'CONFIG',
      `${setting} must be an IPv4 or IPv6 address of this machine such as 10.0.0.2, got ${JSON.stringify(value)}`,
    )
  if (family === 4 || address.includes('%')) return address
  return new URL(`http://[${address}]/`).hostname.slice(1, -1)
}

/** Listening on the address, on a port the system picks, is the one sure test that the machine has it. */
async function requireLocalAddress(address: string, setting: string): Promise<void> {
  const server = net.createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: address, port: 0, exclusive: true }, resolve)
    })
  } catch (error) {
    const code = (error as { code?: unknown }).code
    throw new EtlError(
      'CONFIG',
      `${setting} ${address} is not an address of this machine (${typeof code === 'string' ? code : messageOf(error)}): give one of its own addresses (ip -brief address lists them), or unset it to send from the default route`,
      { cause: error },
    )
  } finally {
    server.close()
  }
}

/**
 * A fetch whose sockets bind to `address`: undici's own fetch over its Agent, the pair of one
 * version (Node 20's fetch takes the Agent too, but is undici 6 under it). The Agent binds with its
 * client option `localAddress`; `connect.localAddress` is overwritten by it and silently ignored.
 * `family` makes a host resolve to addresses the bound one can reach.
 */
async function boundFetch(address: string): Promise<{ fetch: typeof fetch; close(): Promise<void> }> {
  // Loaded only by a process that binds.
  const { Agent, fetch: undiciFetch } = await import('undici')
  const agent = new Agent({ localAddress: address, connect: { family: net.isIP(address) } })
  const send = (input: string | URL, init?: RequestInit): Promise<unknown> =>
    undiciFetch(input, { ...(init as UndiciRequestInit | undefined), dispatcher: agent })
  return { fetch: send as typeof fetch, close: () => agent.close() }
}

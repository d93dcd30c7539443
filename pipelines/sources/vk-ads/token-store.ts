import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import lockfile from 'proper-lockfile'
import { messageOf } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { registerSecret } from '../../core/secrets.ts'
import { VkAdsAccountError, VkAdsApiError } from './vk-ads-errors.ts'

/**
 * VK Ads allows about 5 tokens per (app, user) at any time, refuses a 6th with 403, and a refresh
 * kills the old access token at once (shared/vk-ads/API.md §2.2, §2.3). So the token pair is
 * minted once and then refreshed for ever: it lives in a state file per client id, and every
 * refresh or mint happens under a lock held within the process and across processes, re-reading
 * the file first (another process may have refreshed it a moment ago).
 *
 * File: `<stateDir>/vk-ads/token-<sha256(client id), 32 hex>.json`, mode 0600 in a 0700 directory,
 * replaced atomically (temp file, fsync, rename). The name says nothing of the client or its
 * tokens; the content is `{ version, clientId, accessToken, refreshToken, expiresAt, scope,
 * obtainedAt }`.
 */

/** A token is refreshed when it has less than this left (§6: "refresh if expiring within the hour"). */
export const REFRESH_BEFORE_EXPIRY_MS = 3_600_000
/** [DOC] "Lifetime: one day": assumed when the token endpoint leaves out expires_in. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 86_400
export const TOKEN_STATE_VERSION = 1
/** Holding the cross-process lock this long without touching it marks it abandoned (a killed process). */
const LOCK_STALE_MS = 30_000
/** Waiting for another process's refresh (a token call of up to a minute, retried). */
const LOCK_RETRIES = { retries: 120, factor: 1.2, minTimeout: 100, maxTimeout: 2000 } as const

/** A token pair as the token endpoint gives it. */
export interface VkAdsTokenGrant {
  readonly accessToken: string
  /** Left out by the endpoint: the stored one is kept (VK keeps refresh tokens unless told to rotate them). */
  readonly refreshToken: string | undefined
  readonly expiresInSeconds: number
  readonly scope: readonly string[]
}

/** A token pair as stored. */
export interface StoredVkAdsToken {
  readonly clientId: string
  readonly accessToken: string
  readonly refreshToken: string | null
  readonly expiresAt: Date
  readonly scope: readonly string[]
  readonly obtainedAt: Date
}

/** The token endpoint's two grants; its refusals are {@link VkAdsApiError}s with VK's code. */
export interface VkAdsTokenEndpoint {
  /** grant_type=client_credentials: a new token, one of the 5. */
  mint(): Promise<VkAdsTokenGrant>
  /** grant_type=refresh_token: the same token with a new access token. */
  refresh(refreshToken: string): Promise<VkAdsTokenGrant>
}

export interface VkAdsTokenStoreConfig {
  readonly stateDir: string
  readonly clientId: string
  readonly endpoint: VkAdsTokenEndpoint
  /** The run's clock (tests move it with the simulator's). */
  readonly clock: () => Date
  readonly logger?: Logger | undefined
}

/** Refresh refusals that mean the refresh token is gone (deleted, a month idle): only a new token helps. */
const DEAD_REFRESH_CODES: readonly string[] = ['invalid_grant', 'invalid_token', 'expired_token']

/** The state file of a client id: a hash, so the name gives away nothing. */
export function tokenStatePath(stateDir: string, clientId: string): string {
  const hash = createHash('sha256').update(`vk-ads\u0000${clientId}`).digest('hex').slice(0, 32)
  return path.join(stateDir, 'vk-ads', `token-${hash}.json`)
}

/**
 * One client id's token: {@link accessToken} for a call, {@link replaceRejected} when a call was
 * refused with `invalid_token` or `expired_token`.
 *
 * @example
 * const tokens = new VkAdsTokenStore({ stateDir: '.data/state', clientId, endpoint, clock: () => new Date() })
 * const token = await tokens.accessToken()
 */
export class VkAdsTokenStore {
  readonly file: string
  private readonly config: VkAdsTokenStoreConfig
  private current: StoredVkAdsToken | undefined

  constructor(config: VkAdsTokenStoreConfig) {
    this.config = config
    this.file = tokenStatePath(config.stateDir, config.clientId)
  }

  /** A token with more than an hour left: the one held or stored, else refreshed, else minted. */
  async accessToken(): Promise<string> {
    if (this.current !== undefined && this.fresh(this.current)) return this.current.accessToken
    const stored = await this.load()
    if (stored !== undefined && this.fresh(stored)) return this.keep(stored).accessToken
    return this.locked(async () => {
      const latest = await this.load()
      if (latest !== undefined && this.fresh(latest)) return this.keep(latest).accessToken
      return (await this.renew(latest)).accessToken
    })
  }

  /**
   * A replacement for `rejected`, which VK refused: the stored one when another process has
   * already replaced it, else a refreshed one (a minted one when the refresh token is gone too).
   */
  async replaceRejected(rejected: string): Promise<string> {
    return this.locked(async () => {
      const latest = await this.load()
      if (latest !== undefined && latest.accessToken !== rejected && latest.expiresAt > this.config.clock())
        return this.keep(latest).accessToken
      return (await this.renew(latest)).accessToken
    })
  }

  /** Refreshes `stored`, or mints when there is none or its refresh token is dead; stores the result at once. */
  private async renew(stored: StoredVkAdsToken | undefined): Promise<StoredVkAdsToken> {
    const { endpoint, logger, clientId } = this.config
    if (stored?.refreshToken != null) {
      try {
        const grant = await endpoint.refresh(stored.refreshToken)
        logger?.debug({ clientId }, `refreshed the VK Ads token of client ${clientId}`)
        return this.save(grant, stored.refreshToken)
      } catch (error) {
        if (!(error instanceof VkAdsApiError) || !DEAD_REFRESH_CODES.includes(error.vkCode ?? '')) throw error
        logger?.warn(
          { clientId, err: error.message },
          `the refresh token of VK Ads client ${clientId} is no longer valid; minting a new token`,
        )
      }
    }
    let grant: VkAdsTokenGrant
    try {
      grant = await endpoint.mint()
    } catch (error) {
      if (error instanceof VkAdsApiError && error.status === 403)
        throw new VkAdsAccountError(this.limitMessage(), { cause: error })
      throw error
    }
    logger?.info({ clientId }, `minted a VK Ads token for client ${clientId}; it is kept in its state file`)
    return this.save(grant, null)
  }

  private limitMessage(): string {
    return (
      `VK Ads refused a new token for client ${this.config.clientId}: the app already holds 5 live tokens for this account; ` +
      `delete them (POST /api/v2/oauth2/token/delete.json with client_id and client_secret, see README) ` +
      `or restore the state file ${this.file}, then run again`
    )
  }

  private fresh(token: StoredVkAdsToken): boolean {
    return token.expiresAt.getTime() - this.config.clock().getTime() > REFRESH_BEFORE_EXPIRY_MS
  }

  private keep(token: StoredVkAdsToken): StoredVkAdsToken {
    this.current = token
    return token
  }

  private async save(grant: VkAdsTokenGrant, previousRefreshToken: string | null): Promise<StoredVkAdsToken> {
    const now = this.config.clock()
    const token: StoredVkAdsToken = {
      clientId: this.config.clientId,
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken ?? previousRefreshToken,
      expiresAt: new Date(now.getTime() + grant.expiresInSeconds * 1000),
      scope: grant.scope,
      obtainedAt: now,
    }
    await writeTokenState(this.file, token)
    return this.keep(token)
  }

  private load(): Promise<StoredVkAdsToken | undefined> {
    return readTokenState(this.file, this.config.clientId)
  }

  /** `work` alone among this process's callers for this file, then among processes (proper-lockfile). */
  private locked<T>(work: () => Promise<T>): Promise<T> {
    return withProcessMutex(this.file, async () => {
      await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 })
      let release: () => Promise<void>
      try {
        release = await lockfile.lock(this.file, {
          realpath: false,
          lockfilePath: `${this.file}.lock`,
          stale: LOCK_STALE_MS,
          retries: LOCK_RETRIES,
          // A lost lock (the disk went away) shows in the write that follows.
          onCompromised: () => {},
        })
      } catch (error) {
        throw new VkAdsAccountError(
          `cannot lock the VK Ads token state of client ${this.config.clientId} (${this.file}.lock): ${messageOf(error)} — ` +
            `another calltouch-etl process is refreshing it; if none is running, delete the lock directory and run again`,
          { cause: error },
        )
      }
      try {
        return await work()
      } finally {
        await release().catch(() => {})
      }
    })
  }
}

const processLocks = new Map<string, Promise<unknown>>()

/** Runs `work` after every earlier call with the same key of this process has settled. */
function withProcessMutex<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = processLocks.get(key) ?? Promise.resolve()
  const next = previous.then(work, work)
  const settled = next.catch(() => {})
  processLocks.set(key, settled)
  void settled.then(() => {
    if (processLocks.get(key) === settled) processLocks.delete(key)
  })
  return next
}

/**
 * The stored token of `clientId`, its secrets registered; undefined without a file. A file that
 * cannot be read as a token of this client stops the account: minting instead would take one of
 * the 5 slots while the lost token still holds one.
 */
export async function readTokenState(file: string, clientId: string): Promise<StoredVkAdsToken | undefined> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined
    throw new VkAdsAccountError(`cannot read the VK Ads token state ${file}: ${messageOf(error)}`, { cause: error })
  }
  const damaged = (why: string): never => {
    throw new VkAdsAccountError(
      `the VK Ads token state ${file} ${why}: restore it from a backup, or delete it to mint a new token ` +
        `(VK allows 5 per account; POST /api/v2/oauth2/token/delete.json frees them, see README), then run again`,
    )
  }
  let json: Record<string, unknown>
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    return damaged('is damaged (not JSON)')
  }
  const { accessToken, refreshToken, expiresAt, scope, obtainedAt } = json
  if (typeof accessToken === 'string') registerSecret(accessToken)
  if (typeof refreshToken === 'string') registerSecret(refreshToken)
  if (json.version !== TOKEN_STATE_VERSION)
    damaged(`has version ${JSON.stringify(json.version)}, not ${TOKEN_STATE_VERSION}`)
  if (json.clientId !== clientId) damaged(`belongs to another client id (${JSON.stringify(json.clientId)})`)
  const expires = typeof expiresAt === 'string' ? new Date(expiresAt) : undefined
  if (typeof accessToken !== 'string' || accessToken === '' || expires === undefined || Number.isNaN(expires.getTime()))
    damaged('has no access token or expiry')
  return {
    clientId,
    accessToken: accessToken as string,
    refreshToken: typeof refreshToken === 'string' && refreshToken !== '' ? refreshToken : null,
    expiresAt: expires as Date,
    scope: Array.isArray(scope) ? scope.filter((item): item is string => typeof item === 'string') : [],
    obtainedAt: typeof obtainedAt === 'string' ? new Date(obtainedAt) : new Date(0),
  }
}

/** Writes `token` to `file` atomically: a 0600 temp file beside it, fsync, rename; the directory is made 0700. */
export async function writeTokenState(file: string, token: StoredVkAdsToken): Promise<void> {
  const directory = path.dirname(file)
  await fs.mkdir(directory, { recursive: true, mode: 0o700 })
  // mkdir leaves an existing directory's mode as it was, and the umask may widen nothing but could narrow it.
  await fs.chmod(directory, 0o700)
  const body = `${JSON.stringify(
    {
      version: TOKEN_STATE_VERSION,
      clientId: token.clientId,
      accessToken: token.accessToken,
      refreshToken: token.refreshToken,
      expiresAt: token.expiresAt.toISOString(),
      scope: token.scope,
      obtainedAt: token.obtainedAt.toISOString(),
    },
    null,
    2,
  )}\n`
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const handle = await fs.open(temp, 'wx', 0o600)
  try {
    await handle.chmod(0o600)
    await handle.writeFile(body, 'utf8')
    await handle.sync()
  } catch (error) {
    await handle.close()
    await fs.rm(temp, { force: true })
    throw error
  }
  await handle.close()
  try {
    await fs.rename(temp, file)
  } catch (error) {
    await fs.rm(temp, { force: true })
    throw error
  }
  await syncDirectory(directory)
}

/** Makes the rename durable; some file systems refuse to open a directory, and then it is left to them. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await fs.open(directory, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // Best effort: the rename itself is atomic either way.
  }
}

/**
 * The token endpoint's 200 body as a grant: `expires_in` a string or a number, `scope` a string
 * (space- or comma-separated) or an array (§2.1). The tokens are registered as secrets here,
 * before anything can log them.
 */
export function parseTokenGrant(json: unknown): VkAdsTokenGrant | string {
  if (typeof json !== 'object' || json === null) return 'the answer is not an object'
  const { access_token: access, refresh_token: refresh, expires_in: expiresIn, scope } = json as Record<string, unknown>
  if (typeof access === 'string') registerSecret(access)
  if (typeof refresh === 'string') registerSecret(refresh)
  if (typeof access !== 'string' || access === '') return 'the answer has no access_token'
  const seconds =
    expiresIn === undefined || expiresIn === null
      ? DEFAULT_TOKEN_LIFETIME_SECONDS
      : typeof expiresIn === 'number'
        ? expiresIn
        : typeof expiresIn === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(expiresIn)
          ? Number(expiresIn)
          : Number.NaN
  if (!(seconds > 0) || !Number.isFinite(seconds)) return `the answer's expires_in is not a positive number of seconds`
  return {
    accessToken: access,
    refreshToken: typeof refresh === 'string' && refresh !== '' ? refresh : undefined,
    expiresInSeconds: seconds,
    scope: parseScope(scope),
  }
}

function parseScope(scope: unknown): string[] {
  if (Array.isArray(scope)) return scope.filter((item): item is string => typeof item === 'string')
  if (typeof scope === 'string') return scope.split(/[\s,]+/).filter((item) => item !== '')
  return []
}

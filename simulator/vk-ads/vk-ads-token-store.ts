/**
 * OAuth2 tokens (shared/vk-ads/API.md §2): at most N per (client_id, user) held
 * at once whatever their state, a refresh keeps the token object and replaces
 * its access token, a day's lifetime and a month's inactivity on the simulator
 * clock. Token values are a pure function of (seed, issue number).
 */
import { hash32 } from '../prng.ts'

/** [DOC] "Lifetime: one day". */
export const TOKEN_LIFETIME_SECONDS = 86_400
/** [DOC] "Tokens that are not refreshed are deleted after a month of inactivity": 30 days here. */
export const TOKEN_INACTIVITY_MS = 30 * 86_400_000

export interface VkAdsToken {
  readonly clientId: string
  readonly userId: number
  accessToken: string
  refreshToken: string
  /** Simulator-clock epoch ms at which the access token stops working. */
  expiresAtMs: number
  /** Last issue, refresh or successful use (simulator clock); a month later the token is gone. */
  lastActivityMs: number
  revoked: boolean
}

/** Why an access token is refused: the 401 `code` of §2.4. */
export type TokenRefusal = 'invalid_token' | 'expired_token' | 'revoked_token'

/** Counters of one (client_id, user). */
export interface TokenCounters {
  mints: number
  refreshes: number
  maxHeld: number
}

const key = (clientId: string, userId: number): string => `${clientId}\u0000${userId}`

export class VkAdsTokenStore {
  private readonly byAccess = new Map<string, VkAdsToken>()
  private readonly byRefresh = new Map<string, VkAdsToken>()
  private readonly byUser = new Map<string, VkAdsToken[]>()
  private readonly counters = new Map<string, TokenCounters>()
  private sequence = 0

  constructor(
    private readonly seed: number,
    private readonly maxPerUser: number,
  ) {}

  private value(kind: number): string {
    const n = this.sequence++
    const hex = [1, 2, 3]
      .map((part) =>
        hash32(this.seed, 50 + kind, part, n)
          .toString(16)
          .padStart(8, '0'),
      )
      .join('')
    return `${hex}${n.toString(36)}`
  }

  private countersOf(clientId: string, userId: number): TokenCounters {
    const k = key(clientId, userId)
    let counters = this.counters.get(k)
    if (counters === undefined) {
      counters = { mints: 0, refreshes: 0, maxHeld: 0 }
      this.counters.set(k, counters)
    }
    return counters
  }

  /** Drops tokens a month without activity (they answer invalid_token from then on). */
  purge(nowMs: number): void {
    for (const [k, tokens] of this.byUser) {
      const kept = tokens.filter((token) => {
        if (nowMs - token.lastActivityMs < TOKEN_INACTIVITY_MS) return true
        this.byAccess.delete(token.accessToken)
        this.byRefresh.delete(token.refreshToken)
        return false
      })
      if (kept.length === 0) this.byUser.delete(k)
      else this.byUser.set(k, kept)
    }
  }

  /** Tokens held by (client_id, user) now: live, expired or revoked alike count toward the limit. */
  held(clientId: string, userId: number, nowMs: number): number {
    this.purge(nowMs)
    return this.byUser.get(key(clientId, userId))?.length ?? 0
  }

  counts(clientId: string, userId: number): TokenCounters {
    return { ...this.countersOf(clientId, userId) }
  }

  /** A new token (client_credentials), or 'limit' when the user already holds the maximum. */
  mint(clientId: string, userId: number, nowMs: number): VkAdsToken | 'limit' {
    const held = this.held(clientId, userId, nowMs)
    if (held >= this.maxPerUser) return 'limit'
    const token: VkAdsToken = {
      clientId,
      userId,
      accessToken: this.value(0),
      refreshToken: this.value(1),
      expiresAtMs: nowMs + TOKEN_LIFETIME_SECONDS * 1000,
      lastActivityMs: nowMs,
      revoked: false,
    }
    this.byAccess.set(token.accessToken, token)
    this.byRefresh.set(token.refreshToken, token)
    const k = key(clientId, userId)
    this.byUser.set(k, [...(this.byUser.get(k) ?? []), token])
    const counters = this.countersOf(clientId, userId)
    counters.mints++
    counters.maxHeld = Math.max(counters.maxHeld, held + 1)
    return token
  }

  /**
   * Refreshes the token of a refresh_token issued to this client: a new access
   * token, the old one dead at once, a new day of life. 'unknown' when no such
   * token is held (deleted, a month idle, or another client's).
   */
  refresh(refreshToken: string, clientId: string, nowMs: number, rotate: boolean): VkAdsToken | 'unknown' | 'revoked' {
    this.purge(nowMs)
    const token = this.byRefresh.get(refreshToken)
    if (token === undefined || token.clientId !== clientId) return 'unknown'
    if (token.revoked) return 'revoked'
    this.byAccess.delete(token.accessToken)
    token.accessToken = this.value(0)
    this.byAccess.set(token.accessToken, token)
    if (rotate) {
      this.byRefresh.delete(token.refreshToken)
      token.refreshToken = this.value(1)
      this.byRefresh.set(token.refreshToken, token)
    }
    token.expiresAtMs = nowMs + TOKEN_LIFETIME_SECONDS * 1000
    token.lastActivityMs = nowMs
    this.countersOf(clientId, token.userId).refreshes++
    return token
  }

  /** The token of an access token value, or why it is refused. A successful use counts as activity. */
  authenticate(accessToken: string, nowMs: number): VkAdsToken | TokenRefusal {
    this.purge(nowMs)
    const token = this.byAccess.get(accessToken)
    if (token === undefined) return 'invalid_token'
    if (token.revoked) return 'revoked_token'
    if (nowMs >= token.expiresAtMs) return 'expired_token'
    token.lastActivityMs = nowMs
    return token
  }

  /** `token/delete.json`: every token of (client_id, user) disappears. Returns how many. */
  deleteAll(clientId: string, userId: number): number {
    const tokens = this.byUser.get(key(clientId, userId)) ?? []
    for (const token of tokens) {
      this.byAccess.delete(token.accessToken)
      this.byRefresh.delete(token.refreshToken)
    }
    this.byUser.delete(key(clientId, userId))
    return tokens.length
  }

  /** The user withdrew access: every token held answers revoked_token (and still counts toward the limit). */
  revokeAll(clientId: string, userId: number): number {
    const tokens = this.byUser.get(key(clientId, userId)) ?? []
    for (const token of tokens) token.revoked = true
    return tokens.length
  }

  /** Every token held expires now (the `expireTokensNow` switch). Returns how many. */
  expireAll(nowMs: number): number {
    let count = 0
    for (const tokens of this.byUser.values())
      for (const token of tokens) {
        token.expiresAtMs = Math.min(token.expiresAtMs, nowMs)
        count++
      }
    return count
  }

  clear(): void {
    this.byAccess.clear()
    this.byRefresh.clear()
    this.byUser.clear()
    this.counters.clear()
    this.sequence = 0
  }
}

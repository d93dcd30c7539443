import {
  parseAdAccountBase,
  parseCredential,
  unknownKeyProblems,
  type AdAccountBase,
  type AdAccountParseContext,
  type AdAccountDefaults,
} from '../../core/ad-account.ts'
import { registerSecret } from '../../core/secrets.ts'

/** Yandex Direct's API host (shared/yandex-direct/API.md §1). */
export const YANDEX_DIRECT_BASE_URL = 'https://api.direct.yandex.com'

/** Yandex's own markup puts `{campaign_id}` in utm_campaign (API.md §9). */
export const YANDEX_DIRECT_DEFAULTS: AdAccountDefaults = Object.freeze({
  baseUrl: YANDEX_DIRECT_BASE_URL,
  utm: Object.freeze({ source: 'yandex', medium: 'cpc', campaign: 'id' as const }),
})

/** One Yandex Direct advertiser whose spend a sync reads. */
export interface YandexDirectAccount extends AdAccountBase {
  readonly type: 'yandex-direct'
  /** OAuth token; registered as a secret the moment it is read. */
  readonly token: string
  /** The advertiser's login: required with an agency's token (the Client-Login header), optional with the advertiser's own. */
  readonly clientLogin?: string | undefined
}

const KEYS = ['type', 'site', 'token', 'tokenEnv', 'clientLogin', 'startDate', 'utm', 'baseUrl', 'currency'] as const
const LOGIN_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

/**
 * One `adAccounts[]` entry of type `yandex-direct`, every problem pushed with its place.
 *
 * @example
 * // { "type": "yandex-direct", "site": 12345, "tokenEnv": "DIRECT_TOKEN", "clientLogin": "shop-client",
 * //   "startDate": "2026-01-01", "utm": { "source": "yandex", "medium": "cpc", "campaign": "id" } }
 */
export function parseYandexDirectAccount(
  raw: Readonly<Record<string, unknown>>,
  where: string,
  context: AdAccountParseContext,
  problems: string[],
): YandexDirectAccount | undefined {
  const before = problems.length
  problems.push(...unknownKeyProblems(raw, KEYS, where))
  const token = parseCredential(
    raw,
    { inline: 'token', env: 'tokenEnv', what: 'the OAuth token of the Direct account' },
    where,
    context,
    problems,
  )
  if (token !== undefined) registerSecret(token)
  let clientLogin: string | undefined
  if (raw.clientLogin !== undefined) {
    if (typeof raw.clientLogin === 'string' && LOGIN_PATTERN.test(raw.clientLogin.trim()))
      clientLogin = raw.clientLogin.trim()
    else
      problems.push(
        `${where}.clientLogin: must be the advertiser's Yandex login (letters, digits, dots, dashes), got ${JSON.stringify(raw.clientLogin)}`,
      )
  }
  const base = parseAdAccountBase(raw, where, YANDEX_DIRECT_DEFAULTS, context, problems)
  if (base === undefined || token === undefined || problems.length > before) return undefined
  return Object.freeze({ ...base, type: 'yandex-direct', token, clientLogin })
}

/**
 * The Direct account of env mode: YANDEX_DIRECT_TOKEN (+ YANDEX_DIRECT_CLIENT_LOGIN,
 * YANDEX_DIRECT_BASE_URL) for the one site of CALLTOUCH_SITE_ID; none without a token.
 */
export function yandexDirectAccountFromEnv(
  siteId: number,
  context: AdAccountParseContext,
  problems: string[],
): YandexDirectAccount | undefined {
  const { env } = context
  const token = env.YANDEX_DIRECT_TOKEN?.trim() ?? ''
  const clientLogin = env.YANDEX_DIRECT_CLIENT_LOGIN?.trim() || undefined
  const baseUrl = env.YANDEX_DIRECT_BASE_URL?.trim() || undefined
  if (token === '') {
    if (clientLogin !== undefined || baseUrl !== undefined)
      problems.push(
        'YANDEX_DIRECT_TOKEN is not set while YANDEX_DIRECT_CLIENT_LOGIN or YANDEX_DIRECT_BASE_URL is: set it to the OAuth token of the Direct account',
      )
    return undefined
  }
  registerSecret(token)
  const raw = { type: 'yandex-direct', site: siteId, token, clientLogin, baseUrl }
  const entryProblems: string[] = []
  const account = parseYandexDirectAccount(withoutUndefined(raw), 'YANDEX_DIRECT_*', context, entryProblems)
  problems.push(...entryProblems.map(envProblem))
  return account === undefined ? undefined : { ...account, where: 'environment (YANDEX_DIRECT_TOKEN)' }
}

function envProblem(problem: string): string {
  return problem
    .replace('YANDEX_DIRECT_*.clientLogin', 'YANDEX_DIRECT_CLIENT_LOGIN')
    .replace('YANDEX_DIRECT_*.baseUrl', 'YANDEX_DIRECT_BASE_URL')
}

function withoutUndefined(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined))
}

import {
  parseAdAccountBase,
  parseCredential,
  unknownKeyProblems,
  type AdAccountBase,
  type AdAccountDefaults,
  type AdAccountParseContext,
} from '../../core/ad-account.ts'
import { registerSecret } from '../../core/secrets.ts'

/** VK Ads' API host (shared/vk-ads/API.md §1). */
export const VK_ADS_BASE_URL = 'https://ads.vk.com'

/** `{{ad_plan_id}}` in utm_campaign carries the campaign id (API.md §7). */
export const VK_ADS_DEFAULTS: AdAccountDefaults = Object.freeze({
  baseUrl: VK_ADS_BASE_URL,
  utm: Object.freeze({ source: 'vk', medium: 'cpc', campaign: 'id' as const }),
})

/** One VK Ads account (API access of client credentials) whose spend a sync reads. */
export interface VkAdsAccount extends AdAccountBase {
  readonly type: 'vk-ads'
  readonly clientId: string
  /** Registered as a secret the moment it is read. */
  readonly clientSecret: string
}

const KEYS = [
  'type',
  'site',
  'clientId',
  'clientIdEnv',
  'clientSecret',
  'clientSecretEnv',
  'startDate',
  'utm',
  'baseUrl',
  'currency',
] as const

/**
 * One `adAccounts[]` entry of type `vk-ads`, every problem pushed with its place.
 *
 * @example
 * // { "type": "vk-ads", "site": 12345, "clientIdEnv": "VK_ID", "clientSecretEnv": "VK_SECRET",
 * //   "utm": { "source": "vk", "medium": "cpc", "campaign": "id" } }
 */
export function parseVkAdsAccount(
  raw: Readonly<Record<string, unknown>>,
  where: string,
  context: AdAccountParseContext,
  problems: string[],
): VkAdsAccount | undefined {
  const before = problems.length
  problems.push(...unknownKeyProblems(raw, KEYS, where))
  const clientSecret = parseCredential(
    raw,
    { inline: 'clientSecret', env: 'clientSecretEnv', what: "the VK Ads app's client_secret" },
    where,
    context,
    problems,
  )
  if (clientSecret !== undefined) registerSecret(clientSecret)
  const clientId = parseCredential(
    raw,
    { inline: 'clientId', env: 'clientIdEnv', what: "the VK Ads app's client_id" },
    where,
    context,
    problems,
  )
  const base = parseAdAccountBase(raw, where, VK_ADS_DEFAULTS, context, problems)
  if (base === undefined || clientId === undefined || clientSecret === undefined || problems.length > before)
    return undefined
  return Object.freeze({ ...base, type: 'vk-ads', clientId, clientSecret })
}

/**
 * The VK Ads account of env mode: VK_ADS_CLIENT_ID and VK_ADS_CLIENT_SECRET (+ VK_ADS_BASE_URL)
 * for the one site of CALLTOUCH_SITE_ID; none when neither is set.
 */
export function vkAdsAccountFromEnv(
  siteId: number,
  context: AdAccountParseContext,
  problems: string[],
): VkAdsAccount | undefined {
  const { env } = context
  const clientId = env.VK_ADS_CLIENT_ID?.trim() ?? ''
  const clientSecret = env.VK_ADS_CLIENT_SECRET?.trim() ?? ''
  const baseUrl = env.VK_ADS_BASE_URL?.trim() || undefined
  registerSecret(clientSecret)
  if (clientId === '' && clientSecret === '') {
    if (baseUrl !== undefined)
      problems.push('VK_ADS_BASE_URL is set without VK_ADS_CLIENT_ID and VK_ADS_CLIENT_SECRET: set both, or unset it')
    return undefined
  }
  if (clientId === '' || clientSecret === '') {
    problems.push(
      `${clientId === '' ? 'VK_ADS_CLIENT_ID' : 'VK_ADS_CLIENT_SECRET'} is not set while ${clientId === '' ? 'VK_ADS_CLIENT_SECRET' : 'VK_ADS_CLIENT_ID'} is: set both from the cabinet's Settings → API access`,
    )
    return undefined
  }
  const raw: Record<string, unknown> = { type: 'vk-ads', site: siteId, clientId, clientSecret }
  if (baseUrl !== undefined) raw.baseUrl = baseUrl
  const entryProblems: string[] = []
  const account = parseVkAdsAccount(raw, 'VK_ADS_*', context, entryProblems)
  problems.push(...entryProblems.map((problem) => problem.replace('VK_ADS_*.baseUrl', 'VK_ADS_BASE_URL')))
  return account === undefined ? undefined : { ...account, where: 'environment (VK_ADS_CLIENT_ID)' }
}

import type { Env } from '../core/config.ts'
import { DEFAULT_AD_ACCOUNT_SETTINGS, type AdAccountParseContext, type AdAccountSettings } from '../core/ad-account.ts'
import {
  calltouchConfigFromEnvVars,
  calltouchConfigFromJson,
  configError,
  configFilePath,
  readConfigFile,
  type CalltouchConfig,
  type SiteConfig,
} from '../sources/calltouch-deals/config.ts'
import { parseVkAdsAccount, vkAdsAccountFromEnv, type VkAdsAccount } from '../sources/vk-ads/config.ts'
import {
  parseYandexDirectAccount,
  yandexDirectAccountFromEnv,
  type YandexDirectAccount,
} from '../sources/yandex-direct/config.ts'

/** An ad account a sync reads the spend of. */
export type AdAccount = YandexDirectAccount | VkAdsAccount
export const AD_ACCOUNT_TYPES = ['yandex-direct', 'vk-ads'] as const

/** Everything a run reads: the Calltouch sites and the ad accounts, with how each is read. */
export interface RunConfig {
  readonly calltouch: CalltouchConfig
  readonly adAccounts: readonly AdAccount[]
  readonly adSettings: AdAccountSettings
}

/** Config file keys of the ad accounts' settings, and the setting each sets. */
const AD_SETTING_KEYS = {
  adLookbackDays: 'lookbackDays',
  adRefreshMaxAgeDays: 'refreshMaxAgeDays',
  adRefreshAfterDays: 'refreshAfterDays',
} as const satisfies Record<string, keyof AdAccountSettings>

/**
 * The run's configuration: from the config file (`--config`, or CALLTOUCH_CONFIG) its `sites`,
 * `adAccounts` and settings; otherwise the one site of CALLTOUCH_SITE_ID with the ad accounts of
 * YANDEX_DIRECT_TOKEN and VK_ADS_CLIENT_ID/VK_ADS_CLIENT_SECRET. Every secret is registered as it
 * is read. Throws one CONFIG error (exit 2) naming every problem of the sites and the accounts.
 *
 * @example
 * const config = runConfigFromEnv(process.env, { configFile: 'calltouch.json', cwd: process.cwd(), now: new Date() })
 * config.adAccounts.map((account) => account.type) // ['yandex-direct', 'vk-ads']
 */
export function runConfigFromEnv(
  env: Env,
  options: { configFile?: string | undefined; cwd: string; now: Date },
): RunConfig {
  const file = configFilePath(env, options)
  if (file === undefined) {
    const parsed = calltouchConfigFromEnvVars(env, options.now)
    const problems = [...parsed.problems]
    const site = parsed.sitesFound[0]
    const adAccounts: AdAccount[] = []
    if (site !== undefined) {
      const context = parseContext(parsed.sitesFound, env, options.now)
      const direct = yandexDirectAccountFromEnv(site.siteId, context, problems)
      const vk = vkAdsAccountFromEnv(site.siteId, context, problems)
      if (direct) adAccounts.push(direct)
      if (vk) adAccounts.push(vk)
    }
    if (problems.length > 0 || parsed.value === undefined) throw configError(parsed.where, problems)
    return Object.freeze({ calltouch: parsed.value, adAccounts, adSettings: DEFAULT_AD_ACCOUNT_SETTINGS })
  }
  const json = readConfigFile(file)
  const parsed = calltouchConfigFromJson(json, file, env, options.now)
  const problems = [...parsed.problems]
  const record = isRecord(json) ? json : {}
  const adAccounts = parseAdAccounts(record.adAccounts, parseContext(parsed.sitesFound, env, options.now), problems)
  const adSettings = parseAdSettings(record, problems)
  if (problems.length > 0 || parsed.value === undefined) throw configError(parsed.where, problems)
  return Object.freeze({ calltouch: parsed.value, adAccounts, adSettings })
}

function parseContext(sites: readonly SiteConfig[], env: Env, now: Date): AdAccountParseContext {
  return { sites: new Map(sites.map((site) => [site.siteId, site])), env, now }
}

function parseAdAccounts(value: unknown, context: AdAccountParseContext, problems: string[]): AdAccount[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) {
    problems.push('adAccounts: must be a list of ad accounts (see README, Ad spend)')
    return []
  }
  const accounts: AdAccount[] = []
  const seen = new Map<string, string>()
  value.forEach((entry: unknown, index) => {
    const where = `adAccounts[${index}]`
    if (!isRecord(entry)) {
      problems.push(`${where}: must be an object with a type (${AD_ACCOUNT_TYPES.join(' or ')})`)
      return
    }
    const account =
      entry.type === 'yandex-direct'
        ? parseYandexDirectAccount(entry, where, context, problems)
        : entry.type === 'vk-ads'
          ? parseVkAdsAccount(entry, where, context, problems)
          : void problems.push(
              `${where}.type: must be ${AD_ACCOUNT_TYPES.map((type) => `"${type}"`).join(' or ')}, got ${JSON.stringify(entry.type)}`,
            )
    if (account === undefined) return
    const identity = accountIdentity(account)
    const first = seen.get(identity)
    if (first !== undefined)
      problems.push(`${where}: the same ${account.type} account as ${first}: list each account once`)
    else {
      seen.set(identity, where)
      accounts.push(account)
    }
  })
  return accounts
}

/** What makes two entries the same account: Direct's login (or its token, for an advertiser's own), VK's client id. */
function accountIdentity(account: AdAccount): string {
  return account.type === 'yandex-direct'
    ? `yandex-direct ${account.baseUrl} ${account.clientLogin ?? `token ${account.token}`}`
    : `vk-ads ${account.baseUrl} ${account.clientId}`
}

function parseAdSettings(record: Readonly<Record<string, unknown>>, problems: string[]): AdAccountSettings {
  const settings: Record<string, number> = { ...DEFAULT_AD_ACCOUNT_SETTINGS }
  for (const [key, setting] of Object.entries(AD_SETTING_KEYS)) {
    const value = record[key]
    if (value === undefined) continue
    const least = setting === 'refreshAfterDays' ? 1 : 0
    if (typeof value === 'number' && Number.isInteger(value) && value >= least && value <= 3660)
      settings[setting] = value
    else problems.push(`${key}: must be a whole number of days from ${least} to 3660, got ${JSON.stringify(value)}`)
  }
  return Object.freeze(settings as unknown as AdAccountSettings)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

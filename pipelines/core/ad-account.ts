import { dayProblem, type Day } from './day.ts'

/**
 * What every ad account has, whatever its platform (Yandex Direct, VK Ads): the Calltouch site it
 * advertises, the channel keys its spend stands for, and how far back it is read. Each platform's
 * source adds its credentials (sources/yandex-direct/config.ts, sources/vk-ads/config.ts).
 */

/**
 * How the account's spend meets the deals: the deals' utm_source and utm_medium the account's ads
 * carry, and what their utm_campaign holds: the campaign `id` (Direct's `{campaign_id}`, VK's
 * `{{ad_plan_id}}`) or its `name`.
 */
export interface UtmMapping {
  readonly source: string
  readonly medium: string
  readonly campaign: 'id' | 'name'
}

export interface AdAccountBase {
  /** The Calltouch site whose deals the spend is set against. */
  readonly siteId: number
  /** First day a sync reads (default: the site's startDate). */
  readonly startDate: Day
  /** IANA zone of the account's days: the site's. */
  readonly timeZone: string
  readonly utm: UtmMapping
  /** The platform's API base URL (default the vendor's; the simulator or a proxy otherwise). */
  readonly baseUrl: string
  /** The account's currency when given in the config; otherwise the platform's. */
  readonly currency?: string | undefined
  /** Where the account was configured, for messages: `adAccounts[1]` or `environment`. */
  readonly where: string
}

/** How the ad accounts of a run are read, whatever the platform. */
export interface AdAccountSettings {
  /** Days up to today re-read by every sync: platforms refine recent statistics for days. */
  readonly lookbackDays: number
  /** Older days are re-read up to this age ... */
  readonly refreshMaxAgeDays: number
  /** ... once their last complete read is this many days old. */
  readonly refreshAfterDays: number
  /** Time allowed for one request, answer included. */
  readonly timeoutMs: number
  /** Retries of one request after a 429, a 5xx, a network error or a timeout. */
  readonly maxRetries: number
}

export const DEFAULT_AD_ACCOUNT_SETTINGS: AdAccountSettings = Object.freeze({
  lookbackDays: 10,
  refreshMaxAgeDays: 60,
  refreshAfterDays: 7,
  timeoutMs: 60_000,
  maxRetries: 5,
})

/** A range of days one request (or one report) covered, and why it failed when it did. */
export interface AdRangeFailure {
  readonly firstDay: Day
  readonly lastDay: Day
  readonly error: string
}

/** How one account's part of a run went. */
export interface AdAccountRunResult {
  readonly type: 'yandex-direct' | 'vk-ads'
  /** The ledger's account: Direct's client login, VK's client id. Null when the account could not even be identified. */
  readonly account: string | null
  readonly siteId: number
  readonly where: string
  /**
   * The account's currency; null when it could not be learnt. Direct: the config's, else Clients.get's. VK Ads: the
   * platform's (a config naming another stops the account), else the config's. The jobs layer records it with the
   * account's channel keys.
   */
  readonly currency: string | null
  /** Days read completely and stored. */
  readonly daysRead: number
  /** Campaign-days written: new, changed, deleted; and read again unchanged. */
  readonly inserted: number
  readonly updated: number
  readonly deleted: number
  readonly unchanged: number
  /** HTTP requests sent (retries and polls included) and retries. */
  readonly requests: number
  readonly retries: number
  /** Ranges that failed, with the platform's reason. */
  readonly failures: readonly AdRangeFailure[]
  /** Why the whole account failed (a refused token, a wrong login), when it did. */
  readonly error: string | null
}

/** What an account parser may consult: the configured sites (their zones and start dates), the environment and the clock. */
export interface AdAccountParseContext {
  readonly sites: ReadonlyMap<number, { readonly timeZone: string; readonly startDate: Day }>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly now: Date
}

/** The channel keys an account's spend stands for when the config says nothing (its platform's usual markup). */
export interface AdAccountDefaults {
  readonly baseUrl: string
  readonly utm: UtmMapping
}

const CURRENCY_PATTERN = /^[A-Z]{3}$/
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * The platform-neutral fields of one `adAccounts[]` entry (site, startDate, utm, baseUrl, currency),
 * each problem pushed with its place (`adAccounts[1].utm.campaign: …`); undefined when one is fatal.
 * The platform's parser checks its own keys and credentials and calls this for the rest.
 */
export function parseAdAccountBase(
  raw: Readonly<Record<string, unknown>>,
  where: string,
  defaults: AdAccountDefaults,
  context: AdAccountParseContext,
  problems: string[],
): AdAccountBase | undefined {
  const before = problems.length
  const siteId = raw.site
  const site = typeof siteId === 'number' ? context.sites.get(siteId) : undefined
  if (siteId === undefined) problems.push(`${where}.site: missing: name the Calltouch site id the account advertises`)
  else if (site === undefined)
    problems.push(
      `${where}.site: ${JSON.stringify(siteId)} is not a configured site (sites: ${[...context.sites.keys()].join(', ') || 'none'}): use one of them`,
    )
  const zone = site?.timeZone ?? 'UTC'
  let startDate = site?.startDate ?? ''
  if (raw.startDate !== undefined) {
    const problem =
      typeof raw.startDate === 'string'
        ? dayProblemOf(raw.startDate, zone, context.now)
        : 'must be a date as YYYY-MM-DD'
    if (problem) problems.push(`${where}.startDate: ${problem}`)
    else startDate = raw.startDate as string
  }
  const utm = parseUtm(raw.utm, `${where}.utm`, defaults.utm, problems)
  let baseUrl = defaults.baseUrl
  if (raw.baseUrl !== undefined) {
    const problem = typeof raw.baseUrl === 'string' ? urlProblem(raw.baseUrl) : 'must be an http(s) URL'
    if (problem) problems.push(`${where}.baseUrl: ${problem}`)
    else baseUrl = (raw.baseUrl as string).replace(/\/+$/, '')
  }
  let currency: string | undefined
  if (raw.currency !== undefined) {
    if (typeof raw.currency === 'string' && CURRENCY_PATTERN.test(raw.currency)) currency = raw.currency
    else problems.push(`${where}.currency: must be a currency code such as RUB, got ${JSON.stringify(raw.currency)}`)
  }
  if (problems.length > before || site === undefined || utm === undefined) return undefined
  return { siteId: siteId as number, startDate, timeZone: zone, utm, baseUrl, currency, where }
}

/**
 * A credential given inline (`token`) or through an environment variable (`tokenEnv`): exactly one
 * of the two. Registered as a secret by the caller.
 */
export function parseCredential(
  raw: Readonly<Record<string, unknown>>,
  names: { readonly inline: string; readonly env: string; readonly what: string },
  where: string,
  context: AdAccountParseContext,
  problems: string[],
): string | undefined {
  const inline = raw[names.inline]
  const envName = raw[names.env]
  const hasInline = typeof inline === 'string' && inline.trim() !== ''
  if (inline !== undefined && typeof inline !== 'string') problems.push(`${where}.${names.inline}: must be a string`)
  if (hasInline && envName !== undefined) {
    problems.push(`${where}: give either ${names.inline} or ${names.env}, not both`)
    return undefined
  }
  if (hasInline) return inline.trim()
  if (envName === undefined) {
    problems.push(
      `${where}: needs ${names.inline} or ${names.env} (the name of an environment variable holding ${names.what})`,
    )
    return undefined
  }
  if (typeof envName !== 'string' || !ENV_NAME_PATTERN.test(envName)) {
    problems.push(`${where}.${names.env}: must be the name of an environment variable, got ${JSON.stringify(envName)}`)
    return undefined
  }
  const value = context.env[envName]?.trim() ?? ''
  if (value === '') {
    problems.push(
      `${where}.${names.env}: the environment variable ${envName} is not set or empty: export it with ${names.what}`,
    )
    return undefined
  }
  return value
}

/** Problems of keys an entry does not know, each named with the keys it does. */
export function unknownKeyProblems(
  raw: Readonly<Record<string, unknown>>,
  known: readonly string[],
  where: string,
): string[] {
  return Object.keys(raw)
    .filter((key) => !known.includes(key))
    .map((key) => `${where}: unknown key ${JSON.stringify(key)} (known: ${known.join(', ')})`)
}

function parseUtm(value: unknown, where: string, defaults: UtmMapping, problems: string[]): UtmMapping | undefined {
  if (value === undefined) return defaults
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${where}: must be an object such as {"source": "yandex", "medium": "cpc", "campaign": "id"}`)
    return undefined
  }
  const utm = value as Record<string, unknown>
  const before = problems.length
  problems.push(...unknownKeyProblems(utm, ['source', 'medium', 'campaign'], where))
  for (const key of ['source', 'medium'] as const)
    if (utm[key] !== undefined && (typeof utm[key] !== 'string' || utm[key].trim() === ''))
      problems.push(`${where}.${key}: must be a non-empty string, the deals' utm_${key} for these ads`)
  if (utm.campaign !== undefined && utm.campaign !== 'id' && utm.campaign !== 'name')
    problems.push(
      `${where}.campaign: must be "id" (utm_campaign carries the campaign id) or "name" (its name), got ${JSON.stringify(utm.campaign)}`,
    )
  if (problems.length > before) return undefined
  return {
    source: typeof utm.source === 'string' ? utm.source.trim() : defaults.source,
    medium: typeof utm.medium === 'string' ? utm.medium.trim() : defaults.medium,
    campaign: utm.campaign === 'id' || utm.campaign === 'name' ? utm.campaign : defaults.campaign,
  }
}

function urlProblem(url: string): string | undefined {
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'https:' || parsed.protocol === 'http:'
      ? undefined
      : `must be an http(s) URL, got ${JSON.stringify(url)}`
  } catch {
    return `must be an http(s) URL, got ${JSON.stringify(url)}`
  }
}

function dayProblemOf(text: string, zone: string, now: Date): string | undefined {
  return dayProblem(text, { zone, now })
}

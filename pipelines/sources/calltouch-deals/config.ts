import { readFileSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { MAX_ACCOUNT_ID, parseAccountId } from '../../core/account-id.ts'
import type { Env } from '../../core/config.ts'
import { addDays, dayProblem, timeZoneProblem, todayIn } from '../../core/day.ts'
import { EtlError, messageOf } from '../../core/errors.ts'
import { registerSecret } from '../../core/secrets.ts'
import { CALLTOUCH_MAX_REQUESTS_PER_SECOND } from '../../http/calltouch-api.ts'

/*
 * Calltouch's configuration and its vendor facts (host, rate limit, defaults):
 * the sites of the deals export and how a sync of them runs. Core stays vendor-neutral.
 */

/** The vendor's host; with it the client asks `getnodeid` for the site's node (API.md). */
export const DEFAULT_BASE_URL = 'https://api.calltouch.ru'
export const DEFAULT_TIME_ZONE = 'Europe/Moscow'
/** The first sync of a site reads this many days back when no start date is configured. */
export const DEFAULT_START_DAYS_AGO = 90

/** The vendor allows 5 requests a second per IP (deals export page, last paragraph): every Calltouch source's limit. */
export const MAX_REQUESTS_PER_SECOND = CALLTOUCH_MAX_REQUESTS_PER_SECOND
/**
 * What a site may load from Calltouch: the deals export, the calls journal, the requests journal
 * (LEADS-API.md). A site loads every stream unless its `streams` setting names fewer.
 */
export const CALLTOUCH_STREAMS = ['deals', 'calls', 'requests'] as const
export type CalltouchStream = (typeof CALLTOUCH_STREAMS)[number]

/** The streams a site loads: its `streams` setting, or every stream. */
export function siteStreams(site: Pick<SiteConfig, 'streams'>): readonly CalltouchStream[] {
  return site.streams ?? CALLTOUCH_STREAMS
}

/** How a site id must be written, for messages: `--site must be ${SITE_ID_RULE}, got "x"`. */
export const SITE_ID_RULE = 'a Calltouch site id (a positive integer)'

export interface SiteConfig {
  readonly siteId: number
  /** The `clientApiId`; registered as a secret the moment it is read. */
  readonly token: string
  /** IANA zone of the site's local dates (the API's dates carry no zone). */
  readonly timeZone: string
  /** First day (YYYY-MM-DD, site-local) a sync reads. */
  readonly startDate: string
  /** What the site loads (`streams` in the config file, CALLTOUCH_STREAMS in env mode); absent: every stream. */
  readonly streams?: readonly CalltouchStream[]
}

/** How a sync or backfill runs, whatever the site. */
export interface RunSettings {
  /** Days before today re-read by every sync, because deals change long after orderDate. */
  readonly lookbackDays: number
  /** Older days are refreshed only up to this age ... */
  readonly refreshMaxAgeDays: number
  /** ... and only when last read more than this many days ago. */
  readonly refreshAfterDays: number
  /** Requests started in any one second, for every site of the process together. */
  readonly requestsPerSecond: number
  /** Time allowed for one request, answer body included. */
  readonly timeoutMs: number
  /** Retries of one request after a 429, a 5xx, a network error, a timeout or a body that does not parse. */
  readonly maxRetries: number
}

export const DEFAULT_RUN_SETTINGS: RunSettings = Object.freeze({
  lookbackDays: 30,
  refreshMaxAgeDays: 180,
  refreshAfterDays: 7,
  requestsPerSecond: MAX_REQUESTS_PER_SECOND,
  timeoutMs: 30_000,
  maxRetries: 6,
})

export interface CalltouchConfig {
  /** `https://api.calltouch.ru` (node discovery) or any other base used as is (e.g. the simulator). */
  readonly baseUrl: string
  readonly sites: readonly SiteConfig[]
  readonly run: RunSettings
  /** Where the sites came from, for messages: 'environment' or the config file's path. */
  readonly source: string
}

const RUN_SETTING_SCHEMAS = {
  lookbackDays: z.number().int().min(0).max(3660),
  refreshMaxAgeDays: z.number().int().min(0).max(3660),
  refreshAfterDays: z.number().int().min(1).max(3660),
  requestsPerSecond: z.number().gt(0).max(MAX_REQUESTS_PER_SECOND),
  timeoutMs: z.number().int().min(100).max(600_000),
  maxRetries: z.number().int().min(0).max(20),
} as const

const FILE_SITE = z.strictObject({
  id: z.number().int().min(1).max(MAX_ACCOUNT_ID),
  token: z.string().min(1).optional(),
  tokenEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable')
    .optional(),
  timeZone: z.string().optional(),
  startDate: z.string().optional(),
  streams: z.unknown().optional(),
})

/**
 * Keys of the config file that other sources own: their parsers check them (the ad accounts:
 * jobs/run-config.ts). Here they are only let through.
 */
const OTHER_SOURCES_KEYS = {
  adAccounts: z.unknown().optional(),
  adLookbackDays: z.unknown().optional(),
  adRefreshMaxAgeDays: z.unknown().optional(),
  adRefreshAfterDays: z.unknown().optional(),
} as const

const CONFIG_FILE = z.strictObject({
  ...OTHER_SOURCES_KEYS,
  baseUrl: z.string().optional(),
  sites: z.array(FILE_SITE).min(1, 'must list at least one site'),
  lookbackDays: RUN_SETTING_SCHEMAS.lookbackDays.optional(),
  refreshMaxAgeDays: RUN_SETTING_SCHEMAS.refreshMaxAgeDays.optional(),
  refreshAfterDays: RUN_SETTING_SCHEMAS.refreshAfterDays.optional(),
  requestsPerSecond: RUN_SETTING_SCHEMAS.requestsPerSecond.optional(),
  timeoutMs: RUN_SETTING_SCHEMAS.timeoutMs.optional(),
  maxRetries: RUN_SETTING_SCHEMAS.maxRetries.optional(),
})

/**
 * The Calltouch sites and run settings: from the JSON file `configFile` (the
 * `--config` option) or `CALLTOUCH_CONFIG` when either is given, otherwise one
 * site from `CALLTOUCH_SITE_ID`, `CALLTOUCH_API_TOKEN`, `CALLTOUCH_TIMEZONE`
 * and `CALLTOUCH_START_DATE`. Every token is registered as a secret as soon as
 * it is read. Throws one CONFIG error (exit 2) naming every problem at once.
 *
 * @example
 * // calltouch.json
 * // { "sites": [{ "id": 12345, "tokenEnv": "CT_TOKEN_MAIN", "startDate": "2026-01-01" },
 * //             { "id": 67890, "token": "…", "timeZone": "Asia/Yekaterinburg" }],
 * //   "lookbackDays": 14 }
 * calltouchConfigFromEnv(process.env, { configFile: 'calltouch.json', cwd: process.cwd(), now: new Date() })
 */
export function calltouchConfigFromEnv(
  env: Env,
  options: { configFile?: string | undefined; cwd: string; now: Date },
): CalltouchConfig {
  const file = configFilePath(env, options)
  if (file === undefined) return throwingProblems(calltouchConfigFromEnvVars(env, options.now))
  return throwingProblems(calltouchConfigFromJson(readConfigFile(file), file, env, options.now))
}

/** A configuration as parsed: the value when there was no problem, and every problem found. */
export interface ParsedConfig<T> {
  readonly value: T | undefined
  readonly problems: readonly string[]
  /** Where it came from, for the message: 'the Calltouch config file /x.json', 'the Calltouch configuration in the environment'. */
  readonly where: string
  /** The sites that parsed, even when others did not: the ad accounts are checked against them. */
  readonly sitesFound: readonly SiteConfig[]
}

/** The config file to read (--config, else CALLTOUCH_CONFIG), as an absolute path; undefined in env mode. */
export function configFilePath(
  env: Env,
  options: { configFile?: string | undefined; cwd: string },
): string | undefined {
  const configFile = options.configFile ?? (env.CALLTOUCH_CONFIG?.trim() || undefined)
  return configFile === undefined ? undefined : path.resolve(options.cwd, configFile)
}

/** The value, or one CONFIG error (exit 2) naming every problem. */
export function throwingProblems<T>(parsed: ParsedConfig<T>): T {
  if (parsed.problems.length > 0 || parsed.value === undefined) throw configError(parsed.where, parsed.problems)
  return parsed.value
}

/**
 * The one site of the environment variables (see {@link calltouchConfigFromEnv}). Throws at
 * once when no site is configured at all; collects every other problem.
 */
export function calltouchConfigFromEnvVars(env: Env, now: Date): ParsedConfig<CalltouchConfig> {
  const where = 'the Calltouch configuration in the environment'
  const problems: string[] = []
  const token = env.CALLTOUCH_API_TOKEN?.trim() ?? ''
  registerSecret(token)
  const siteIdText = env.CALLTOUCH_SITE_ID?.trim() ?? ''
  if (siteIdText === '' && token === '') {
    throw new EtlError(
      'CONFIG',
      'no Calltouch site is configured: set CALLTOUCH_SITE_ID and CALLTOUCH_API_TOKEN, or pass --config FILE (or set CALLTOUCH_CONFIG) listing the sites',
    )
  }
  const siteId = parseAccountId(siteIdText)
  if (siteIdText === '')
    problems.push('CALLTOUCH_SITE_ID is not set: set it to the site id shown in Calltouch (a positive integer)')
  else if (siteId === undefined) problems.push(`CALLTOUCH_SITE_ID ${siteIdProblem(siteIdText)}`)
  if (token === '')
    problems.push(
      "CALLTOUCH_API_TOKEN is not set: set it to the API token (clientApiId) from Calltouch's integration settings",
    )
  const timeZone = env.CALLTOUCH_TIMEZONE?.trim() || DEFAULT_TIME_ZONE
  const zoneProblem = timeZoneProblem(timeZone)
  if (zoneProblem) problems.push(`CALLTOUCH_TIMEZONE ${zoneProblem}`)
  const startText = env.CALLTOUCH_START_DATE?.trim() || undefined
  const startDate = startText ?? defaultStartDate(zoneProblem ? DEFAULT_TIME_ZONE : timeZone, now)
  const startProblem =
    startText === undefined
      ? undefined
      : dayProblem(startText, { zone: zoneProblem ? DEFAULT_TIME_ZONE : timeZone, now })
  if (startProblem) problems.push(`CALLTOUCH_START_DATE ${startProblem}`)
  const baseUrl = env.CALLTOUCH_BASE_URL?.trim() || DEFAULT_BASE_URL
  const urlProblem = baseUrlProblem(baseUrl)
  if (urlProblem) problems.push(`CALLTOUCH_BASE_URL ${urlProblem}`)
  const streamsText = env.CALLTOUCH_STREAMS?.trim() || undefined
  const streams =
    streamsText === undefined
      ? undefined
      : parseStreams(
          streamsText.split(',').map((name) => name.trim()),
          'CALLTOUCH_STREAMS',
          problems,
        )
  const sitesFound =
    siteId === undefined
      ? []
      : [Object.freeze({ siteId, token, timeZone: zoneProblem ? DEFAULT_TIME_ZONE : timeZone, startDate })]
  if (problems.length > 0) return { value: undefined, problems, where, sitesFound }
  const value: CalltouchConfig = Object.freeze({
    baseUrl: trimSlash(baseUrl),
    sites: Object.freeze([
      Object.freeze({ siteId: siteId as number, token, timeZone, startDate, ...(streams ? { streams } : {}) }),
    ]),
    run: DEFAULT_RUN_SETTINGS,
    source: 'environment',
  })
  return { value, problems, where, sitesFound }
}

/** The parsed JSON of the config file, or a one-line CONFIG error when it cannot be read or is not JSON. */
export function readConfigFile(file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new EtlError(
      'CONFIG',
      `cannot read the Calltouch config file ${file}: ${messageOf(error)} — pass an existing JSON file to --config (or CALLTOUCH_CONFIG)`,
      { cause: error },
    )
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new EtlError(
      'CONFIG',
      `the Calltouch config file ${file} is not valid JSON (${jsonSyntaxProblem(error)}): fix its syntax`,
    )
  }
}

/** The sites and run settings of the config file's JSON; the keys of other sources are left to them. */
export function calltouchConfigFromJson(
  json: unknown,
  file: string,
  env: Env,
  now: Date,
): ParsedConfig<CalltouchConfig> {
  const where = `the Calltouch config file ${file}`
  registerFileTokens(json)
  const parsed = CONFIG_FILE.safeParse(json)
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issuePath(issue.path)}: ${issue.message}`)
  const rawSites = isRecord(json) && Array.isArray(json.sites) ? (json.sites as unknown[]) : []
  const sites: SiteConfig[] = []
  const sitesFound: SiteConfig[] = []
  const seenIds = new Map<number, number>()
  rawSites.forEach((raw, index) => {
    if (!isRecord(raw)) return
    const where = `sites[${index}]`
    const siteId = typeof raw.id === 'number' ? raw.id : undefined
    if (siteId !== undefined) {
      const first = seenIds.get(siteId)
      if (first !== undefined)
        problems.push(`${where}.id: site ${siteId} is listed twice (also sites[${first}]): list each site once`)
      else seenIds.set(siteId, index)
    }
    const token = siteToken(raw, env, where, problems)
    const timeZone = typeof raw.timeZone === 'string' ? raw.timeZone : DEFAULT_TIME_ZONE
    const zoneProblem = timeZoneProblem(timeZone)
    if (zoneProblem) problems.push(`${where}.timeZone: ${zoneProblem}`)
    const zone = zoneProblem ? DEFAULT_TIME_ZONE : timeZone
    let startDate = defaultStartDate(zone, now)
    if (typeof raw.startDate === 'string') {
      const startProblem = dayProblem(raw.startDate, { zone, now })
      if (startProblem) problems.push(`${where}.startDate: ${startProblem}`)
      startDate = raw.startDate
    }
    const streams =
      raw.streams === undefined
        ? undefined
        : Array.isArray(raw.streams)
          ? parseStreams(raw.streams, `${where}.streams`, problems)
          : (problems.push(`${where}.streams: ${STREAMS_RULE}, got ${JSON.stringify(raw.streams)}`), undefined)
    const chosen = streams === undefined ? {} : { streams }
    if (siteId !== undefined && Number.isInteger(siteId) && siteId >= 1 && siteId <= MAX_ACCOUNT_ID)
      sitesFound.push(Object.freeze({ siteId, token: token ?? '', timeZone: zone, startDate, ...chosen }))
    if (siteId !== undefined && token !== undefined)
      sites.push(Object.freeze({ siteId, token, timeZone, startDate, ...chosen }))
  })
  const baseUrl =
    (isRecord(json) && typeof json.baseUrl === 'string' ? json.baseUrl : undefined) ??
    (env.CALLTOUCH_BASE_URL?.trim() || DEFAULT_BASE_URL)
  const urlProblem = baseUrlProblem(baseUrl)
  if (urlProblem) problems.push(`baseUrl: ${urlProblem}`)
  if (problems.length > 0 || !parsed.success) return { value: undefined, problems, where, sitesFound }
  const { lookbackDays, refreshMaxAgeDays, refreshAfterDays, requestsPerSecond, timeoutMs, maxRetries } = parsed.data
  const settings = { lookbackDays, refreshMaxAgeDays, refreshAfterDays, requestsPerSecond, timeoutMs, maxRetries }
  const defined = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined))
  const value: CalltouchConfig = Object.freeze({
    baseUrl: trimSlash(baseUrl),
    sites: Object.freeze(sites),
    run: Object.freeze({ ...DEFAULT_RUN_SETTINGS, ...defined }),
    source: file,
  })
  return { value, problems, where, sitesFound }
}

/**
 * V8 quotes the text around an unexpected token ('..."token":a/b+c.d-SE"...'), and that text
 * can be a token written without quotes, before any token is registered as a secret: never
 * echo it. Its other messages give a position only.
 */
function jsonSyntaxProblem(error: unknown): string {
  const message = messageOf(error)
  return message.startsWith('Unexpected token') ? 'an unexpected character: check the quotes and commas' : message
}

/** Registers every token of a parsed config file before anything can report it. */
function registerFileTokens(json: unknown): void {
  if (!isRecord(json) || !Array.isArray(json.sites)) return
  for (const site of json.sites as unknown[]) {
    if (isRecord(site) && typeof site.token === 'string') registerSecret(site.token.trim())
  }
}

function siteToken(raw: Record<string, unknown>, env: Env, where: string, problems: string[]): string | undefined {
  const hasToken = typeof raw.token === 'string' && raw.token.trim() !== ''
  const tokenEnv = typeof raw.tokenEnv === 'string' ? raw.tokenEnv : undefined
  if (hasToken && tokenEnv !== undefined) {
    problems.push(`${where}: give either token or tokenEnv, not both`)
    return undefined
  }
  if (hasToken) return (raw.token as string).trim()
  if (tokenEnv === undefined) {
    problems.push(`${where}: needs token or tokenEnv (the name of an environment variable holding the token)`)
    return undefined
  }
  const token = env[tokenEnv]?.trim() ?? ''
  registerSecret(token)
  if (token === '') {
    problems.push(
      `${where}.tokenEnv: the environment variable ${tokenEnv} is not set or empty: export it with the site's API token`,
    )
    return undefined
  }
  return token
}

const STREAMS_RULE = `must list one or more of ${CALLTOUCH_STREAMS.map((name) => `"${name}"`).join(', ')}, each once`

/** A site's streams, in the order of {@link CALLTOUCH_STREAMS}; undefined after pushing the problem. */
function parseStreams(
  names: readonly unknown[],
  where: string,
  problems: string[],
): readonly CalltouchStream[] | undefined {
  const known = new Set<string>(CALLTOUCH_STREAMS)
  const unknown = names.filter((name) => typeof name !== 'string' || !known.has(name))
  const repeated = names.length !== new Set(names).size
  if (names.length === 0 || unknown.length > 0 || repeated) {
    const got =
      unknown.length > 0
        ? `, got ${unknown.map((name) => JSON.stringify(name)).join(', ')}`
        : repeated
          ? ', got a stream twice'
          : ', got none'
    problems.push(`${where}: ${STREAMS_RULE}${got}`)
    return undefined
  }
  return Object.freeze(CALLTOUCH_STREAMS.filter((stream) => names.includes(stream)))
}

/** Why `text` is not a site id, as the end of a sentence naming where it came from. */
export function siteIdProblem(text: string): string {
  return `must be ${SITE_ID_RULE}, got ${JSON.stringify(text)}`
}

function defaultStartDate(zone: string, now: Date): string {
  return addDays(todayIn(zone, now), -DEFAULT_START_DAYS_AGO)
}

function baseUrlProblem(url: string): string | undefined {
  try {
    const parsed = new URL(url)
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
      return `must be an http(s) URL, got ${JSON.stringify(url)}`
    return undefined
  } catch {
    return `must be an http(s) URL such as ${DEFAULT_BASE_URL}, got ${JSON.stringify(url)}`
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

function issuePath(parts: readonly PropertyKey[]): string {
  let text = ''
  for (const part of parts)
    text += typeof part === 'number' ? `[${part}]` : text === '' ? String(part) : `.${String(part)}`
  return text === '' ? '(the file)' : text
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function configError(where: string, problems: readonly string[]): EtlError {
  const count = problems.length === 1 ? 'a problem' : `${problems.length} problems`
  return new EtlError('CONFIG', `${where} has ${count} — fix and run again: ${problems.join('; ')}`)
}

/**
 * The JSON services besides Reports that a spend loader uses (API.md §3, §8):
 * Clients.get, Campaigns.get and Changes.{checkDictionaries, check,
 * checkCampaigns}, in the `{"method", "params"}` envelope. Each returns the
 * `result` object or throws a DirectError.
 */
import { hashString } from '../prng.ts'
import { dayKeyOf } from '../wall-clock.ts'
import type { DirectAccount } from './direct-account.ts'
import { DirectError } from './direct-errors.ts'

/** Points a call costs (`Units` header); the vendor's price list is not simulated. */
export const UNIT_COST = { checkDictionaries: 1, check: 10, checkCampaigns: 10, get: 10 } as const

const CLIENT_FIELDS = ['ClientId', 'ClientInfo', 'Login', 'Currency', 'VatRate', 'CountryId', 'Type'] as const
const CAMPAIGN_FIELDS = ['Id', 'Name', 'Type', 'Currency', 'State', 'Status'] as const
const CHANGES_FIELDS = new Set(['CampaignIds', 'AdGroupIds', 'AdIds', 'CampaignsStat'])
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

const invalid = (detail: string): DirectError => new DirectError(8000, detail)

type JsonObject = Record<string, unknown>

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The Changes service's `Timestamp`: UTC, to the second. */
export function formatTimestamp(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

function parseTimestamp(value: unknown): number {
  if (typeof value !== 'string' || !TIMESTAMP.test(value) || Number.isNaN(Date.parse(value)))
    throw invalid('params.Timestamp is required as YYYY-MM-DDThh:mm:ssZ (UTC), as a previous answer returned it')
  return Date.parse(value)
}

function requestedFields<T extends string>(params: JsonObject, allowed: readonly T[]): T[] {
  const names = params['FieldNames']
  if (!Array.isArray(names) || names.length === 0) throw invalid('params.FieldNames must be a non-empty array')
  for (const name of names)
    if (typeof name !== 'string' || !allowed.includes(name as T))
      throw invalid(`params.FieldNames: ${JSON.stringify(name)} is not one of ${allowed.join(', ')}`)
  return names as T[]
}

/** The envelope `{"method", "params"}` of a JSON service body. */
export function parseEnvelope(bodyText: string): { method: string; params: JsonObject } {
  let body: unknown
  try {
    body = JSON.parse(bodyText)
  } catch {
    throw invalid('the request body is not JSON; send {"method": ..., "params": {...}}')
  }
  if (!isObject(body) || typeof body['method'] !== 'string')
    throw invalid('the request body must be {"method": "<name>", "params": {...}}')
  const params = body['params'] ?? {}
  if (!isObject(params)) throw invalid('params must be an object')
  return { method: body['method'], params }
}

export function clientsGet(params: JsonObject, account: DirectAccount): JsonObject {
  const fields = requestedFields(params, CLIENT_FIELDS)
  const { config } = account
  const all: Record<(typeof CLIENT_FIELDS)[number], unknown> = {
    ClientId: 10_000_000 + (hashString(config.login) % 90_000_000),
    ClientInfo: config.login,
    Login: config.login,
    Currency: config.currency,
    VatRate: config.vatRate,
    CountryId: 225,
    Type: 'CLIENT',
  }
  return { Clients: [Object.fromEntries(fields.map((f) => [f, all[f]]))] }
}

export function campaignsGet(params: JsonObject, account: DirectAccount, nowMs: number): JsonObject {
  const fields = requestedFields(params, CAMPAIGN_FIELDS)
  const criteria = params['SelectionCriteria'] ?? {}
  if (!isObject(criteria)) throw invalid('params.SelectionCriteria must be an object')
  const ids = criteria['Ids']
  if (ids !== undefined && (!Array.isArray(ids) || ids.some((id) => !Number.isSafeInteger(id))))
    throw invalid('params.SelectionCriteria.Ids must be an array of integers')
  const wanted = ids === undefined ? undefined : new Set(ids as number[])
  const campaigns = account.campaigns(nowMs).filter((c) => wanted === undefined || wanted.has(c.id))
  return {
    Campaigns: campaigns.map((c) => {
      const all: Record<(typeof CAMPAIGN_FIELDS)[number], unknown> = {
        Id: c.id,
        Name: c.name,
        Type: c.type,
        Currency: account.config.currency,
        State: 'ON',
        Status: 'ACCEPTED',
      }
      return Object.fromEntries(fields.map((f) => [f, all[f]]))
    }),
  }
}

export function changesCheckDictionaries(params: JsonObject, nowMs: number): JsonObject {
  const result: JsonObject = { Timestamp: formatTimestamp(nowMs) }
  if (params['Timestamp'] !== undefined) {
    parseTimestamp(params['Timestamp'])
    Object.assign(result, { RegionsChanged: 'NO', TimeZonesChanged: 'NO' })
  }
  return result
}

/**
 * Changes.check for campaigns: changes stamped at or after `Timestamp` (to the
 * second) and at or before the clock. `CampaignsStat` lists corrected
 * campaigns with the earliest corrected day as `BorderDate`; `CampaignIds`
 * lists renamed campaigns. Every asked-for array is present, possibly empty.
 */
export function changesCheck(params: JsonObject, account: DirectAccount, nowMs: number): JsonObject {
  if (params['AdGroupIds'] !== undefined || params['AdIds'] !== undefined)
    throw invalid('the simulator answers Changes.check by CampaignIds only')
  const ids = params['CampaignIds']
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 3000)
    throw invalid('params.CampaignIds must hold 1 to 3000 campaign ids')
  if (ids.some((id) => !Number.isSafeInteger(id) || (id as number) <= 0))
    throw invalid('params.CampaignIds must be positive integers')
  const fields = requestedFields(params, [...CHANGES_FIELDS])
  const sinceMs = parseTimestamp(params['Timestamp'])
  const known = (ids as number[]).filter((id) => account.hasCampaign(id))
  const corrected = account.correctedSince(sinceMs, nowMs)
  const renamed = account.renamedSince(sinceMs, nowMs)
  const modified: JsonObject = {}
  for (const field of fields) {
    if (field === 'CampaignIds') modified['CampaignIds'] = known.filter((id) => renamed.has(id))
    else if (field === 'CampaignsStat')
      modified['CampaignsStat'] = known
        .filter((id) => corrected.has(id))
        .map((id) => ({ CampaignId: id, BorderDate: dayKeyOf(corrected.get(id) as number) }))
    else modified[field] = []
  }
  return {
    Modified: modified,
    NotFound: { CampaignIds: (ids as number[]).filter((id) => !account.hasCampaign(id)) },
    Unprocessed: { CampaignIds: [] },
    Timestamp: formatTimestamp(nowMs),
  }
}

/** Changes.checkCampaigns: every campaign changed since `Timestamp`, `SELF` for a rename, `STAT` for a correction. */
export function changesCheckCampaigns(params: JsonObject, account: DirectAccount, nowMs: number): JsonObject {
  const sinceMs = parseTimestamp(params['Timestamp'])
  const corrected = account.correctedSince(sinceMs, nowMs)
  const renamed = account.renamedSince(sinceMs, nowMs)
  const campaigns = account.config.campaigns
    .filter((c) => corrected.has(c.id) || renamed.has(c.id))
    .map((c) => ({
      CampaignId: c.id,
      ChangesIn: [...(renamed.has(c.id) ? ['SELF'] : []), ...(corrected.has(c.id) ? ['STAT'] : [])],
    }))
  return { Campaigns: campaigns, Timestamp: formatTimestamp(nowMs) }
}

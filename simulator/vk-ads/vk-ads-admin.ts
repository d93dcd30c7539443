/**
 * The VK Ads simulator's own admin paths, `/_sim/vk-ads/…` (never counted nor
 * limited): stats, faults, late corrections, renames, revoking and blocking,
 * and what a test expects. See simulator/README.md, "VK Ads".
 */
import type http from 'node:http'
import type { AdPlanSummary } from './ad-plan-catalog.ts'
import type { VkAdsCorrection, VkAdsExpectedRow } from './ad-plan-statistics.ts'
import { readBody, VkAdsAnswer } from './vk-ads-answer.ts'
import type { ResolvedVkAdsFaults, VkAdsFaultConfig } from './vk-ads-options.ts'
import type { VkAdsSimStats } from './vk-ads-stats.ts'

/** What the admin paths call: the test-facing methods of SimulatedVkAds. */
export interface VkAdsAdminTarget {
  stats(): VkAdsSimStats
  faults(): ResolvedVkAdsFaults
  setFaults(faults: VkAdsFaultConfig): void
  correct(correction: VkAdsCorrection): void
  renameAdPlan(clientId: string, adPlanId: number, name: string): void
  revokeTokens(clientId: string): number
  blockUser(clientId: string, blocked?: boolean): void
  adPlans(clientId: string): AdPlanSummary[]
  expectedRows(clientId: string, fromDay: string, toDay: string): VkAdsExpectedRow[]
  reset(): void
}

async function readObject(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req)
  const value: unknown = text.trim() === '' ? {} : JSON.parse(text)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('expected a JSON object')
  return value as Record<string, unknown>
}

function text(body: Record<string, unknown>, name: string): string {
  const value = body[name]
  if (typeof value !== 'string' || value === '') throw new TypeError(`expected "${name}" as a non-empty string`)
  return value
}

function integer(body: Record<string, unknown>, name: string): number {
  const value = body[name]
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`expected "${name}" as an integer`)
  return value
}

function query(url: URL, name: string): string {
  const value = url.searchParams.get(name)
  if (value === null || value === '') throw new TypeError(`expected the query parameter ${name}`)
  return value
}

/** Answers one admin request. */
export async function handleVkAdsAdmin(
  target: VkAdsAdminTarget,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
): Promise<void> {
  const route = `${req.method} ${url.pathname.replace(/\/$/, '')}`
  let answer: VkAdsAnswer
  try {
    answer = await answerAdmin(target, route, req, url)
  } catch (error) {
    answer = VkAdsAnswer.json(400, { message: error instanceof Error ? error.message : String(error) })
  }
  answer.write(res)
}

async function answerAdmin(
  target: VkAdsAdminTarget,
  route: string,
  req: http.IncomingMessage,
  url: URL,
): Promise<VkAdsAnswer> {
  switch (route) {
    case 'GET /_sim/vk-ads/stats':
      return VkAdsAnswer.json(200, target.stats())
    case 'GET /_sim/vk-ads/faults':
      return VkAdsAnswer.json(200, target.faults())
    case 'POST /_sim/vk-ads/faults':
      target.setFaults(await readObject(req))
      return VkAdsAnswer.json(200, target.faults())
    case 'POST /_sim/vk-ads/corrections': {
      const raw: unknown = JSON.parse(await readBody(req))
      const list: unknown[] = Array.isArray(raw) ? raw : [raw]
      for (const item of list) target.correct(item as VkAdsCorrection)
      return VkAdsAnswer.json(200, { corrected: list.length })
    }
    case 'POST /_sim/vk-ads/rename': {
      const body = await readObject(req)
      target.renameAdPlan(text(body, 'clientId'), integer(body, 'adPlanId'), text(body, 'name'))
      return VkAdsAnswer.json(200, { ok: true })
    }
    case 'POST /_sim/vk-ads/revoke':
      return VkAdsAnswer.json(200, { revoked: target.revokeTokens(text(await readObject(req), 'clientId')) })
    case 'POST /_sim/vk-ads/block': {
      const body = await readObject(req)
      target.blockUser(text(body, 'clientId'), body['blocked'] !== false)
      return VkAdsAnswer.json(200, { ok: true })
    }
    case 'POST /_sim/vk-ads/reset':
      target.reset()
      return VkAdsAnswer.json(200, { ok: true })
    case 'GET /_sim/vk-ads/ad-plans':
      return VkAdsAnswer.json(200, target.adPlans(query(url, 'clientId')))
    case 'GET /_sim/vk-ads/expected-rows': {
      const rows = target.expectedRows(query(url, 'clientId'), query(url, 'from'), query(url, 'to'))
      return VkAdsAnswer.json(
        200,
        rows.map((row) => ({ ...row, costMicros: row.costMicros.toString() })),
      )
    }
    default:
      return VkAdsAnswer.json(404, { message: `No VK Ads admin route ${route}; see simulator/README.md` })
  }
}

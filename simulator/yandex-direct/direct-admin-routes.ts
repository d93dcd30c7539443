/**
 * Admin paths of the simulated Direct API (never counted nor limited):
 *
 * - `GET  /_sim/yandex-direct/stats`
 * - `GET|POST /_sim/yandex-direct/faults` (POST replaces every fault and switch)
 * - `POST /_sim/yandex-direct/corrections` (one {@link DirectCorrection} or an array)
 * - `POST /_sim/yandex-direct/renames` (one {@link DirectRename} or an array)
 * - `GET  /_sim/yandex-direct/campaigns?login=`
 * - `GET  /_sim/yandex-direct/expected-rows?login=&from=&to=` (costMicros as a string)
 * - `GET  /_sim/yandex-direct/reports?login=` (the offline queue)
 * - `POST /_sim/yandex-direct/reset`
 */
import type http from 'node:http'
import type { DayKey } from '../wall-clock.ts'
import type { DirectAccount, DirectCampaign } from './direct-account.ts'
import type { YandexDirectSimStats } from './direct-stats-recorder.ts'
import type { OfflineReportInfo } from './offline-report-queue.ts'
import type { ResolvedDirectFaults, YandexDirectFaults } from './yandex-direct-options.ts'

/** A row a fresh report (IncludeVAT NO) would hold now, for tests to compare with what a client loaded. */
export interface DirectExpectedRow {
  day: DayKey
  campaignId: string
  campaignName: string
  impressions: number
  clicks: number
  costMicros: bigint
}

/** A late correction: new absolute values of one campaign-day, stamped at the simulator clock. */
export interface DirectCorrection {
  /** Default: the first account. */
  login?: string
  campaignId: number | string
  day: DayKey
  impressions?: number
  clicks?: number
  costMicros?: bigint | number | string
}

/** A campaign rename, effective from `at` (ISO 8601; default the simulator clock) on. */
export interface DirectRename {
  login?: string
  campaignId: number | string
  name: string
  at?: string
}

/** What the admin paths drive: SimulatedYandexDirect's test API. */
export interface DirectAdminTarget {
  stats(): YandexDirectSimStats
  currentFaults(): ResolvedDirectFaults
  setFaults(faults: YandexDirectFaults): void
  correct(correction: DirectCorrection): void
  rename(rename: DirectRename): void
  campaigns(login?: string): DirectCampaign[]
  account(login?: string): DirectAccount
  expectedRows(login: string, fromDay: DayKey, toDay: DayKey): DirectExpectedRow[]
  reports(login?: string): OfflineReportInfo[]
  reset(): void
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (text += chunk))
    req.on('end', () => {
      try {
        resolve(text.trim() === '' ? {} : JSON.parse(text))
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)))
      }
    })
    req.on('error', reject)
  })
}

function objectOf(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('expected a JSON object')
  return value as Record<string, unknown>
}

function listOf(value: unknown): Record<string, unknown>[] {
  return (Array.isArray(value) ? value : [value]).map(objectOf)
}

export async function handleDirectAdmin(
  sim: DirectAdminTarget,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
): Promise<void> {
  const send = (status: number, value: unknown): void => {
    const body = JSON.stringify(value)
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
    })
    res.end(body)
  }
  const login = url.searchParams.get('login') ?? undefined
  const route = `${req.method} ${url.pathname.replace(/\/$/, '').slice('/_sim/yandex-direct'.length)}`
  try {
    switch (route) {
      case 'GET /stats':
        return send(200, sim.stats())
      case 'GET /faults':
        return send(200, sim.currentFaults())
      case 'POST /faults':
        sim.setFaults(objectOf(await readJson(req)))
        return send(200, sim.currentFaults())
      case 'POST /corrections': {
        const corrections = listOf(await readJson(req)) as unknown as DirectCorrection[]
        for (const correction of corrections) sim.correct(correction)
        return send(200, { applied: corrections.length })
      }
      case 'POST /renames': {
        const renames = listOf(await readJson(req)) as unknown as DirectRename[]
        for (const rename of renames) sim.rename(rename)
        return send(200, { applied: renames.length })
      }
      case 'GET /campaigns':
        return send(200, sim.campaigns(login))
      case 'GET /expected-rows': {
        const from = url.searchParams.get('from')
        const to = url.searchParams.get('to')
        if (from === null || to === null)
          return send(400, { message: 'expected ?login=&from=YYYY-MM-DD&to=YYYY-MM-DD' })
        const rows = sim.expectedRows(sim.account(login).login, from, to)
        return send(
          200,
          rows.map((row) => ({ ...row, costMicros: String(row.costMicros) })),
        )
      }
      case 'GET /reports':
        return send(200, sim.reports(login))
      case 'POST /reset':
        sim.reset()
        return send(200, { ok: true })
      default:
        return send(404, { message: `No admin route ${route} under /_sim/yandex-direct; see simulator/README.md` })
    }
  } catch (error) {
    return send(400, { message: error instanceof Error ? error.message : String(error) })
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type CallRecord, type RequestRecord, type RunningSimulator } from '../../simulator/index.ts'
import { SITE, TOKEN, timedGet } from './http-helpers.ts'

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startSimulator({ rateLimit: false, seed: 3 })
})
afterAll(async () => {
  await sim.close()
})

function callsUrl(params: Record<string, string>, siteId = SITE): string {
  const query = new URLSearchParams({ clientApiId: TOKEN, ...params })
  return `${sim.url}/calls-service/RestAPI/${siteId}/calls-diary/calls?${query.toString()}`
}

function requestsUrl(params: Record<string, string>, path = 'requests'): string {
  const query = new URLSearchParams({ clientApiId: TOKEN, siteId: String(SITE), ...params })
  return `${sim.url}/calls-service/RestAPI/${path}?${query.toString()}`
}

const withAllCalls = { withCallTags: 'true', withOrders: 'true', withYandexDirect: 'true' }
const withAllRequests = { withRequestTags: 'true', withYandexDirect: 'true' }

/** Epoch ms of a Moscow wall time 'dd/mm/yyyy hh:mm:ss' (UTC+3 all year). */
function moscowEpochMs(text: string): number {
  const m = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(text)
  if (m === null) throw new Error(`not a Calltouch date-time: ${text}`)
  return Date.UTC(+m[3]!, +m[2]! - 1, +m[1]!, +m[4]!, +m[5]!, +m[6]!) - 3 * 3_600_000
}

describe('the calls journal', () => {
  it('serves one day as a bare array, byte for byte what expectedCalls says', async () => {
    const { status, text } = await timedGet(callsUrl({ dateFrom: '10/02/2026', dateTo: '10/02/2026', ...withAllCalls }))
    const expected = sim.expectedCalls(SITE, '2026-02-10', '2026-02-10')
    expect(status).toBe(200)
    expect(text).toBe(JSON.stringify(expected))
    expect(expected.length).toBeGreaterThan(40)
    expect(expected.every((c) => c.date.startsWith('10/02/2026 '))).toBe(true)
  })

  it('leaves out callTags, orders and yandexDirect unless asked for', async () => {
    const { text } = await timedGet(callsUrl({ dateFrom: '10/02/2026', dateTo: '10/02/2026' }))
    const calls = JSON.parse(text) as CallRecord[]
    expect(Object.keys(calls[0]!)).not.toContain('callTags')
    expect(text).toBe(
      JSON.stringify(
        sim.expectedCalls(SITE, '2026-02-10', '2026-02-10', {
          withCallTags: false,
          withOrders: false,
          withYandexDirect: false,
        }),
      ),
    )
  })

  it('gives timestamp in epoch seconds, consistent with the Moscow date string', () => {
    const calls = sim.expectedCalls(SITE, '2026-02-10', '2026-02-10')
    for (const call of calls) expect(call.timestamp * 1000).toBe(moscowEpochMs(call.date))
    expect(calls.every((c) => c.timestamp > 1.7e9 && c.timestamp < 1e10)).toBe(true)
  })

  it('pages a multi-day window: envelope, recordsTotal, pageTotal, pages that add up to the window', async () => {
    const expected = sim.expectedCalls(SITE, '2026-11-01', '2026-11-28')
    const pages: CallRecord[] = []
    for (let page = 1; ; page++) {
      const { status, text } = await timedGet(
        callsUrl({ dateFrom: '01/11/2026', dateTo: '28/11/2026', page: String(page), limit: '1000', ...withAllCalls }),
      )
      expect(status).toBe(200)
      const envelope = JSON.parse(text) as { page: number; pageTotal: number; pageSize: number; recordsTotal: number }
      expect(Object.keys(envelope)).toEqual(['page', 'pageTotal', 'pageSize', 'recordsTotal', 'records'])
      expect(envelope).toMatchObject({
        page,
        pageTotal: Math.ceil(expected.length / 1000),
        pageSize: 1000,
        recordsTotal: expected.length,
      })
      pages.push(...(JSON.parse(text) as { records: CallRecord[] }).records)
      if (page >= envelope.pageTotal) break
    }
    expect(pages).toEqual(expected)
    expect(expected.length).toBeGreaterThan(2000)
  })

  it('answers an empty paged window with pageTotal 0 and refuses a range without page, a limit above 1000 and bad dates', async () => {
    const empty = await timedGet(callsUrl({ dateFrom: '01/12/2026', dateTo: '05/12/2026', page: '1' }))
    expect(JSON.parse(empty.text)).toEqual({ page: 1, pageTotal: 0, pageSize: 1000, recordsTotal: 0, records: [] })
    const errorCode = async (params: Record<string, string>): Promise<[number, unknown]> => {
      const { status, text } = await timedGet(callsUrl(params))
      return [
        status,
        (JSON.parse(text) as { data: { apiErrorData: { errorCode: number } } }).data.apiErrorData.errorCode,
      ]
    }
    expect(await errorCode({ dateFrom: '01/11/2026', dateTo: '02/11/2026' })).toEqual([400, 1104])
    expect(await errorCode({ dateFrom: '01/11/2026', dateTo: '02/11/2026', page: '1', limit: '1001' })).toEqual([
      400, 1103,
    ])
    expect(await errorCode({ dateFrom: '2026-11-01', dateTo: '01/11/2026' })).toEqual([400, 1101])
    expect(await errorCode({ dateFrom: '02/11/2026', dateTo: '01/11/2026', page: '1' })).toEqual([400, 1102])
    const forbidden = await timedGet(callsUrl({ dateFrom: '01/11/2026', dateTo: '01/11/2026', clientApiId: 'wrong' }))
    expect(forbidden.status).toBe(403)
    expect(JSON.parse(forbidden.text)).toEqual({ message: expect.any(String) })
  })

  it('filters unique and target calls', async () => {
    const all = sim.expectedCalls(SITE, '2026-11-20', '2026-11-20')
    const { text } = await timedGet(
      callsUrl({ dateFrom: '20/11/2026', dateTo: '20/11/2026', uniqTargetOnly: 'true', ...withAllCalls }),
    )
    expect(text).toBe(JSON.stringify(all.filter((c) => c.uniqTargetCall)))
    expect(all.filter((c) => c.uniqTargetCall).length).toBeGreaterThan(0)
    expect(all.filter((c) => !c.uniqTargetCall).length).toBeGreaterThan(0)
  })
})

describe('the requests journal', () => {
  it('reads month-first dates: 02/10/2026 is 10 February, and a day-first reader would get 2 October', async () => {
    const february = await timedGet(requestsUrl({ dateFrom: '02/10/2026', dateTo: '02/10/2026', ...withAllRequests }))
    const expected = sim.expectedRequests(SITE, '2026-02-10', '2026-02-10')
    expect(february.status).toBe(200)
    expect(february.text).toBe(JSON.stringify(expected))
    expect(expected.length).toBeGreaterThan(5)
    expect(expected.every((r) => r.dateStr.startsWith('10/02/2026 '))).toBe(true)
    const october = await timedGet(requestsUrl({ dateFrom: '10/02/2026', dateTo: '10/02/2026', ...withAllRequests }))
    expect(october.text).toBe(JSON.stringify(sim.expectedRequests(SITE, '2026-10-02', '2026-10-02')))
    expect(october.text).not.toBe(february.text)
  })

  it('refuses a first slot above 12 (13/02/2026 is no month) and a missing siteId, and answers 403 for a wrong token', async () => {
    const bad = await timedGet(requestsUrl({ dateFrom: '13/02/2026', dateTo: '13/02/2026' }))
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.text)).toMatchObject({ data: { apiErrorData: { errorCode: 1101 } } })
    const noSite = await timedGet(
      `${sim.url}/calls-service/RestAPI/requests?clientApiId=${TOKEN}&dateFrom=02/10/2026&dateTo=02/10/2026`,
    )
    expect(JSON.parse(noSite.text)).toMatchObject({ data: { apiErrorData: { errorCode: 1107 } } })
    const forbidden = await timedGet(requestsUrl({ dateFrom: '02/10/2026', dateTo: '02/10/2026', clientApiId: 'x' }))
    expect(forbidden.status).toBe(403)
  })

  it('serves any range as one bare array, at /requests and /requests/ alike', async () => {
    const params = { dateFrom: '11/01/2026', dateTo: '11/07/2026', ...withAllRequests }
    const a = await timedGet(requestsUrl(params))
    const b = await timedGet(requestsUrl(params, 'requests/'))
    expect(a.text).toBe(JSON.stringify(sim.expectedRequests(SITE, '2026-11-01', '2026-11-07')))
    expect(b.text).toBe(a.text)
    expect((await timedGet(requestsUrl({ dateFrom: '12/01/2026', dateTo: '12/31/2026' }))).text).toBe('[]')
  })

  it('gives date in epoch milliseconds, consistent with dateStr, and orders with sum as a string', () => {
    const requests = sim.expectedRequests(SITE, '2026-11-01', '2026-11-07')
    for (const r of requests) expect(r.date).toBe(moscowEpochMs(r.dateStr))
    expect(requests.every((r) => r.date > 1e12)).toBe(true)
    const withOrders = requests.filter((r) => r.orders.length > 0)
    expect(withOrders.length).toBeGreaterThan(0)
    expect(withOrders.every((r) => typeof r.orders[0]!.sum === 'string')).toBe(true)
    expect(requests.filter((r) => r.session.source !== null)[0]?.session).toHaveProperty('keywords')
  })
})

describe('leads and deals', () => {
  it("resolve every deal's orderSource to a lead served on the lead's day, listing the deal in its orders", () => {
    const deals = sim.expectedDeals(SITE, '2026-11-01', '2026-11-28')
    // A deal may name the lead of a deal up to 20 days older (a client buying again), 10 minutes before that one.
    const calls = new Map(sim.expectedCalls(SITE, '2026-10-11', '2026-11-29').map((c) => [c.callId, c]))
    const requestList = sim.expectedRequests(SITE, '2026-10-11', '2026-11-29')
    const requests = new Map(requestList.map((r) => [r.requestNumber, r]))
    const requestsById = new Map(requestList.map((r) => [String(r.requestId), r]))
    /** Every deal the export has now naming each lead, in export order: what the lead's orders must list. */
    const namers = new Map<string, string[]>()
    for (const deal of sim.expectedDeals(SITE, '2026-10-11', '2026-11-29')) {
      const source = deal.orderSource
      const key = source?.type === 'CALL' ? `call ${source.callId}` : `request ${source?.requestNumber}`
      namers.set(key, [...(namers.get(key) ?? []), deal.orderNumber])
    }
    let fromCalls = 0
    let fromRequests = 0
    let byRequestId = 0
    for (const deal of deals) {
      const source = deal.orderSource
      if (source?.type === 'CALL') {
        const call = calls.get(source.callId as number)
        expect(call, `call ${source.callId} of deal ${deal.orderNumber}`).toBeDefined()
        expect(call?.date).toBe(source.dateCall)
        expect(call?.callerNumber).toBe(source.ani)
        expect(call?.phoneNumber).toBe(source.phoneNumber)
        expect(call?.orders?.map((o) => o.orderNumber)).toEqual(namers.get(`call ${source.callId}`))
        fromCalls++
      } else if (source?.type === 'REQUEST') {
        // By requestNumber; a deal of a site that sent no number names the requestId (LEADS-API.md §4 fallback).
        let request = requests.get(source.requestNumber as string)
        if (request === undefined) {
          request = requestsById.get(source.requestNumber as string)
          expect(request?.requestNumber, `request ${source.requestNumber} of deal ${deal.orderNumber}`).toBe(
            `ct-${Number(source.requestNumber).toString(36)}`,
          )
          byRequestId++
        }
        expect(request, `request ${source.requestNumber} of deal ${deal.orderNumber}`).toBeDefined()
        expect(request?.orders.map((o) => o.orderNumber)).toEqual(namers.get(`request ${source.requestNumber}`))
        expect(request?.client.phones[0]?.phoneNumber).toBe(deal.client.phones)
        fromRequests++
      }
    }
    expect(fromCalls).toBeGreaterThan(400)
    expect(fromRequests).toBeGreaterThan(80)
    expect(byRequestId).toBeGreaterThan(3)
    // About 1 deal in 20 names the lead of an older deal: those leads have two deals.
    const shared = [...namers.values()].filter((orderNumbers) => orderNumbers.length > 1).length
    expect(shared / deals.length).toBeGreaterThan(0.02)
    expect(shared / deals.length).toBeLessThan(0.07)
    // Most leads have no deal: 3-5 leads per deal.
    const leads =
      sim.expectedCalls(SITE, '2026-10-31', '2026-11-28').length +
      sim.expectedRequests(SITE, '2026-10-31', '2026-11-28').length
    expect(leads / deals.length).toBeGreaterThan(3)
    expect(leads / deals.length).toBeLessThan(5)
  })

  it('carries attribution, the Direct campaign id of yandex/cpc leads, caller numbers and client names', () => {
    const calls = sim.expectedCalls(SITE, '2026-11-01', '2026-11-07')
    const requests = sim.expectedRequests(SITE, '2026-11-01', '2026-11-07')
    const directIds = new Map(sim.yandexDirect.campaigns().map((c) => [c.name, Number(c.id)]))
    const fromDirect = [
      ...calls.map((c) => ({ source: c.source, medium: c.medium, campaign: c.utmCampaign, direct: c.yandexDirect })),
      ...requests.map((r) => ({
        source: r.session.source,
        medium: r.session.medium,
        campaign: r.session.utmCampaign,
        direct: r.yandexDirect,
      })),
    ].filter((l) => l.source === 'yandex' && l.medium === 'cpc')
    expect(fromDirect.length).toBeGreaterThan(50)
    for (const lead of fromDirect) expect(lead.direct?.campaignId).toBe(directIds.get(lead.campaign ?? ''))
    expect(calls.filter((c) => c.source !== 'yandex' || c.medium !== 'cpc').every((c) => c.yandexDirect === null)).toBe(
      true,
    )
    expect(calls.every((c) => /^79\d{9}$/.test(c.callerNumber))).toBe(true)
    expect(requests.filter((r) => r.client.fio !== null).length).toBeGreaterThan(requests.length / 2)
    expect(requests.some((r) => r.client.contacts.some((c) => c.contactType === 'EMAIL'))).toBe(true)
  })

  it('changes flags and tags of past leads as the clock moves, so a deep refresh has something to catch', async () => {
    const s = await startSimulator({ rateLimit: false, seed: 3, now: '2026-10-05T12:00:00+03:00' })
    try {
      const before = s.expectedCalls(SITE, '2026-10-01', '2026-10-01')
      const beforeRequests = s.expectedRequests(SITE, '2026-10-01', '2026-10-01')
      s.setClock('2026-11-29T12:00:00+03:00')
      const after = s.expectedCalls(SITE, '2026-10-01', '2026-10-01')
      expect(after.map((c) => c.callId)).toEqual(before.map((c) => c.callId))
      const changed = after.filter((c, i) => JSON.stringify(c) !== JSON.stringify(before[i]))
      expect(changed.length).toBeGreaterThan(5)
      expect(after.filter((c, i) => c.targetCall && !before[i]!.targetCall).length).toBeGreaterThan(0)
      expect(
        after.filter((c, i) => JSON.stringify(c.callTags) !== JSON.stringify(before[i]!.callTags)).length,
      ).toBeGreaterThan(0)
      expect(JSON.stringify(s.expectedRequests(SITE, '2026-10-01', '2026-10-01'))).not.toBe(
        JSON.stringify(beforeRequests),
      )
    } finally {
      await s.close()
    }
  })

  it('are a pure function of the seed, and callsPerDay/requestsPerDay set the volume', async () => {
    const other = await startSimulator({
      rateLimit: false,
      seed: 3,
      sites: [{ siteId: SITE, token: TOKEN, callsPerDay: 500, requestsPerDay: 100 }],
    })
    try {
      // The deals do not change with the lead options.
      expect(other.expectedDeals(SITE, '2026-11-01', '2026-11-07')).toEqual(
        sim.expectedDeals(SITE, '2026-11-01', '2026-11-07'),
      )
      const calls: CallRecord[] = other.expectedCalls(SITE, '2026-11-01', '2026-11-28')
      const requests: RequestRecord[] = other.expectedRequests(SITE, '2026-11-01', '2026-11-28')
      expect(calls.length / 28).toBeGreaterThan(400)
      expect(calls.length / 28).toBeLessThan(600)
      expect(requests.length / 28).toBeGreaterThan(80)
      expect(requests.length / 28).toBeLessThan(120)
      expect(new Set(calls.map((c) => c.callId)).size).toBe(calls.length)
      expect(new Set(requests.map((r) => r.requestNumber)).size).toBe(requests.length)
    } finally {
      await other.close()
    }
  })
})

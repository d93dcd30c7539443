import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  EXPORT_ERROR_CODES,
  expectedDeals,
  serializeDealRecord,
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../simulator/index.ts'

const SITE = 12345
const TOKEN = 'test-token'

function exportUrl(sim: RunningSimulator, params: Record<string, string>, siteId = SITE): string {
  const query = new URLSearchParams({ clientApiId: TOKEN, ...params })
  return `${sim.url}/calls-service/RestAPI/${siteId}/orders-diary/orders?${query.toString()}`
}

async function get(url: string): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  const res = await fetch(url)
  const text = await res.text()
  return { status: res.status, text, json: JSON.parse(text) as Record<string, unknown> }
}

/** The exact body the export should answer for these records. */
function recordsBody(records: ReturnType<typeof expectedDeals>, withTags: boolean): string {
  return '{"records":[' + records.map((r) => serializeDealRecord(r, withTags)).join(',') + ']}'
}

const noLimit: SimulatorOptions = { rateLimit: false }

describe('the deals export', () => {
  let sim: RunningSimulator
  beforeAll(async () => {
    sim = await startSimulator(noLimit)
  })
  afterAll(async () => {
    await sim.close()
  })

  it('serves exactly the records expectedDeals returns, dateTo inclusive, without an envelope when not paginating', async () => {
    const expected = expectedDeals(noLimit, SITE, '2026-11-20', '2026-11-21')
    const { status, text } = await get(
      exportUrl(sim, {
        dateFrom: '20/11/2026',
        dateTo: '21/11/2026',
        withOrdersTags: 'true',
        withAllOrderOrigins: 'true',
      }),
    )
    expect(status).toBe(200)
    expect(text).toBe(recordsBody(expected, true))
    expect(expected.length).toBe(44)
    expect(expected[0]?.orderNumber).toBe('39124938863')
  })

  it('orders records by orderDate then orderNumber', () => {
    const records = expectedDeals(noLimit, SITE, '2026-11-01', '2026-11-28')
    const key = (r: (typeof records)[number]): string =>
      r.orderDate.replace(/^(\d\d)\/(\d\d)\/(\d{4}) (.*)$/, '$3$2$1 $4') + ' ' + r.orderNumber
    const keys = records.map(key)
    expect(keys).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
  })

  it('leaves tags out without withOrdersTags and serves null tags for a deal without tags', async () => {
    const withoutTags = await get(
      exportUrl(sim, { dateFrom: '20/11/2026', dateTo: '21/11/2026', withAllOrderOrigins: 'true' }),
    )
    expect(withoutTags.text).not.toContain('"tags"')
    const withTags = await get(
      exportUrl(sim, {
        dateFrom: '20/11/2026',
        dateTo: '21/11/2026',
        withOrdersTags: 'true',
        withAllOrderOrigins: 'true',
      }),
    )
    expect(withTags.text).toContain('"tags":null')
    expect(withTags.text).toContain('"tags":["')
  })

  it('serves only API-created deals unless withAllOrderOrigins=true', async () => {
    const all = expectedDeals(noLimit, SITE, '2026-11-20', '2026-11-21')
    const apiOnly = expectedDeals(noLimit, SITE, '2026-11-20', '2026-11-21', { withAllOrderOrigins: false })
    expect(apiOnly.length).toBeLessThan(all.length)
    expect(apiOnly.every((r) => r.orderOrigin === 'API')).toBe(true)
    const { text } = await get(exportUrl(sim, { dateFrom: '20/11/2026', dateTo: '21/11/2026', withOrdersTags: 'true' }))
    expect(text).toBe(recordsBody(apiOnly, true))
  })

  it('paginates with the envelope {page, pageTotal, pageSize, recordsTotal, records}', async () => {
    const expected = expectedDeals(noLimit, SITE, '2026-11-01', '2026-11-07')
    const { json, text } = await get(
      exportUrl(sim, {
        dateFrom: '01/11/2026',
        dateTo: '07/11/2026',
        page: '2',
        limit: '50',
        withOrdersTags: 'true',
        withAllOrderOrigins: 'true',
      }),
    )
    expect(Object.keys(json)).toEqual(['page', 'pageTotal', 'pageSize', 'recordsTotal', 'records'])
    expect(json).toMatchObject({
      page: 2,
      pageTotal: Math.ceil(expected.length / 50),
      pageSize: 50,
      recordsTotal: expected.length,
    })
    expect(text.slice(text.indexOf('"records":'))).toBe(
      '"records":[' +
        expected
          .slice(50, 100)
          .map((r) => serializeDealRecord(r, true))
          .join(',') +
        ']}',
    )
  })

  it('serves a record with every field of API.md, CALL and REQUEST sources, null visits and obsolete fields', () => {
    const records = expectedDeals(noLimit, SITE, '2026-10-01', '2026-11-28')
    const call = records.find((r) => r.orderSource?.type === 'CALL')
    const request = records.find((r) => r.orderSource?.type === 'REQUEST')
    expect(Object.keys(call?.orderSource ?? {})).toEqual([
      'callId',
      'duration',
      'phoneNumber',
      'type',
      'ani',
      'dateCall',
    ])
    expect(Object.keys(request?.orderSource ?? {})).toEqual(['requestNumber', 'type'])
    const json = JSON.parse(serializeDealRecord(records[0]!, true)) as Record<string, unknown>
    for (const field of [
      'client',
      'completedAmount',
      'completedDate',
      'createdDate',
      'isDeleted',
      'manager',
      'orderDate',
      'orderNumber',
      'orderOrigin',
      'orderSource',
      'orderStatus',
      'plannedAmount',
      'service',
      'tags',
      'visit',
      'orderId',
      'funnel',
    ]) {
      expect(json).toHaveProperty(field)
    }
    const share = (predicate: (r: (typeof records)[number]) => boolean): number =>
      records.filter(predicate).length / records.length
    expect(share((r) => r.orderSource?.type === 'CALL')).toBeGreaterThan(0.75)
    expect(share((r) => r.orderSource?.type === 'CALL')).toBeLessThan(0.85)
    expect(share((r) => r.visit === null)).toBeGreaterThan(0.03)
    expect(share((r) => r.manager === null)).toBeGreaterThan(0.08)
    expect(share((r) => r.custom === undefined)).toBeGreaterThan(0.3)
    expect(share((r) => r.isDeleted)).toBeGreaterThan(0)
    const channels = new Set(records.map((r) => (r.visit === null ? 'none' : `${r.visit.source}/${r.visit.medium}`)))
    for (const channel of ['yandex/cpc', 'google/cpc', '(direct)/(none)', 'yandex/organic', 'vk/social'])
      expect(channels).toContain(channel)
    expect(records.some((r) => r.visit?.utmTerm === '<не заполнено>')).toBe(true)
    expect(records.some((r) => r.visit?.keyword === '(not set)')).toBe(true)
    expect(records.every((r) => /^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d$/.test(r.orderDate))).toBe(true)
  })

  it('writes 38-digit and negative custom values verbatim as JSON numbers', async () => {
    const records = expectedDeals(noLimit, SITE, '2026-11-01', '2026-11-28')
    const holder = records.find((r) => Object.values(r.custom ?? {}).some((v) => v.replace('-', '').length === 38))
    const value = Object.values(holder?.custom ?? {}).find((v) => v.replace('-', '').length === 38) as string
    expect(value).toMatch(/^-?[1-9]\d{37}$/)
    const day = holder!.orderDate.slice(0, 10)
    const { text } = await get(exportUrl(sim, { orderNumber: holder!.orderNumber, withAllOrderOrigins: 'true' }))
    expect(text).toContain(`:${value}`)
    expect(text).not.toContain(`"${value}"`)
    expect(day).toMatch(/^\d\d\/11\/2026$/)
    expect(records.some((r) => Object.values(r.custom ?? {}).some((v) => v.startsWith('-')))).toBe(true)
  })

  it('finds a deal by orderNumber and by phoneNumber.value without dates', async () => {
    const target = expectedDeals(noLimit, SITE, '2026-11-20', '2026-11-20')[3]!
    const byNumber = await get(
      exportUrl(sim, { orderNumber: target.orderNumber, withOrdersTags: 'true', withAllOrderOrigins: 'true' }),
    )
    expect(byNumber.text).toBe(recordsBody([target], true))
    const byPhone = await get(
      exportUrl(sim, {
        'phoneNumber.value': target.client.phones as string,
        withOrdersTags: 'true',
        withAllOrderOrigins: 'true',
      }),
    )
    expect(byPhone.text).toBe(recordsBody([target], true))
  })

  it('filters by orderSource, manager and service', async () => {
    const all = expectedDeals(noLimit, SITE, '2026-11-20', '2026-11-21')
    const cases: [Record<string, string>, (r: (typeof all)[number]) => boolean][] = [
      [{ orderSource: 'REQUEST' }, (r) => r.orderSource?.type === 'REQUEST'],
      [{ manager: 'Коля' }, (r) => r.manager === 'Коля'],
      [{ service: 'AmoCRM' }, (r) => r.service === 'AmoCRM'],
    ]
    for (const [params, predicate] of cases) {
      const { text } = await get(
        exportUrl(sim, {
          dateFrom: '20/11/2026',
          dateTo: '21/11/2026',
          withOrdersTags: 'true',
          withAllOrderOrigins: 'true',
          ...params,
        }),
      )
      expect(text).toBe(recordsBody(all.filter(predicate), true))
    }
  })

  it('limits a day to timeFrom..timeTo', async () => {
    const all = expectedDeals(noLimit, SITE, '2026-11-20', '2026-11-20')
    const { text } = await get(
      exportUrl(sim, {
        dateFrom: '20/11/2026',
        dateTo: '21/11/2026',
        timeFrom: '10:00:00',
        timeTo: '12:00:00',
        withOrdersTags: 'true',
        withAllOrderOrigins: 'true',
      }),
    )
    const inWindow = expectedDeals(noLimit, SITE, '2026-11-20', '2026-11-21').filter((r) => {
      const stamp = r.orderDate.slice(6, 10) + r.orderDate.slice(3, 5) + r.orderDate.slice(0, 2) + r.orderDate.slice(11)
      return stamp >= '20261120' + '10:00:00' && stamp <= '20261121' + '12:00:00'
    })
    expect(text).toBe(recordsBody(inWindow, true))
    expect(inWindow.length).toBeGreaterThan(all.length / 2)
  })

  it('answers node discovery with the site nodeId', async () => {
    const res = await fetch(`${sim.url}/calls-service/RestAPI/${SITE}/getnodeid/`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ nodeId: 1 + (SITE % 7) })
  })

  it('answers 403 {message} for a wrong token or an unknown site', async () => {
    const wrongToken = await fetch(
      exportUrl(sim, { clientApiId: 'nope', dateFrom: '20/11/2026', dateTo: '21/11/2026' }),
    )
    expect(wrongToken.status).toBe(403)
    const body = (await wrongToken.json()) as { message: string }
    expect(Object.keys(body)).toEqual(['message'])
    expect(body.message).not.toContain('nope')
    const unknownSite = await fetch(exportUrl(sim, { dateFrom: '20/11/2026', dateTo: '21/11/2026' }, 999))
    expect(unknownSite.status).toBe(403)
  })

  it.each([
    [{ dateFrom: '2026-11-20', dateTo: '21/11/2026' }, EXPORT_ERROR_CODES.badDate],
    [{ dateFrom: '31/02/2026', dateTo: '21/11/2026', page: '1' }, EXPORT_ERROR_CODES.badDate],
    [{ dateFrom: '22/11/2026', dateTo: '21/11/2026' }, EXPORT_ERROR_CODES.dateOrder],
    [{ dateFrom: '21/11/2026', dateTo: '21/11/2026' }, EXPORT_ERROR_CODES.dateOrder],
    [{ dateFrom: '01/11/2026', dateTo: '21/11/2026', page: '1', limit: '1001' }, EXPORT_ERROR_CODES.limitTooLarge],
    [{ dateFrom: '19/11/2026', dateTo: '21/11/2026' }, EXPORT_ERROR_CODES.paginationRequired],
    [{ dateFrom: '19/11/2026', dateTo: '21/11/2026', page: '0' }, EXPORT_ERROR_CODES.badPaging],
    [{ dateTo: '21/11/2026' }, EXPORT_ERROR_CODES.missingDates],
    [{ dateFrom: '20/11/2026', dateTo: '21/11/2026', timeFrom: '25:00:00' }, EXPORT_ERROR_CODES.badTime],
    [{ dateFrom: '20/11/2026', dateTo: '21/11/2026', orderSource: 'EMAIL' }, EXPORT_ERROR_CODES.badOrderSource],
  ])('answers 400 with apiErrorData for %j', async (params, errorCode) => {
    const { status, json } = await get(exportUrl(sim, params))
    expect(status).toBe(400)
    expect(json).toEqual({ data: { apiErrorData: { errorCode, errorMessage: expect.any(String) } } })
  })
})

describe('the export switches', () => {
  it('treats dateTo as exclusive when dateToInclusive is false', async () => {
    const options: SimulatorOptions = { rateLimit: false, dateToInclusive: false }
    const sim = await startSimulator(options)
    try {
      const { text } = await get(
        exportUrl(sim, {
          dateFrom: '20/11/2026',
          dateTo: '21/11/2026',
          withOrdersTags: 'true',
          withAllOrderOrigins: 'true',
        }),
      )
      expect(text).toBe(recordsBody(expectedDeals(options, SITE, '2026-11-20', '2026-11-20'), true))
    } finally {
      await sim.close()
    }
  })

  it('accepts dateFrom == dateTo as that one day when acceptEqualDates is true', async () => {
    const options: SimulatorOptions = { rateLimit: false, acceptEqualDates: true }
    const sim = await startSimulator(options)
    try {
      const { status, text } = await get(
        exportUrl(sim, {
          dateFrom: '20/11/2026',
          dateTo: '20/11/2026',
          withOrdersTags: 'true',
          withAllOrderOrigins: 'true',
        }),
      )
      expect(status).toBe(200)
      expect(text).toBe(recordsBody(expectedDeals(options, SITE, '2026-11-20', '2026-11-20'), true))
    } finally {
      await sim.close()
    }
  })

  it.each([0, 1] as const)(
    'answers pageTotal %i for an empty result when emptyPageTotal says so',
    async (emptyPageTotal) => {
      const sim = await startSimulator({ rateLimit: false, emptyPageTotal })
      try {
        const { text } = await get(
          exportUrl(sim, { dateFrom: '01/01/2024', dateTo: '05/01/2024', page: '1', limit: '100' }),
        )
        expect(text).toBe(`{"page":1,"pageTotal":${emptyPageTotal},"pageSize":100,"recordsTotal":0,"records":[]}`)
      } finally {
        await sim.close()
      }
    },
  )
})

describe('determinism and the clock', () => {
  it('gives byte-identical pages from two simulators with the same seed and clock', async () => {
    const options: SimulatorOptions = { rateLimit: false, seed: 42, now: '2026-06-15T18:30:00+03:00' }
    const [a, b] = await Promise.all([startSimulator(options), startSimulator(options)])
    try {
      const params = {
        dateFrom: '01/05/2026',
        dateTo: '31/05/2026',
        page: '1',
        limit: '1000',
        withOrdersTags: 'true',
        withAllOrderOrigins: 'true',
      }
      const [pageA, pageB] = await Promise.all([get(exportUrl(a, params)), get(exportUrl(b, params))])
      expect(pageA.text).toBe(pageB.text)
      expect((pageA.json as { recordsTotal: number }).recordsTotal).toBe(
        expectedDeals(options, SITE, '2026-05-01', '2026-05-31').length,
      )
      const other = await startSimulator({ ...options, seed: 43 })
      try {
        expect((await get(exportUrl(other, params))).text).not.toBe(pageA.text)
      } finally {
        await other.close()
      }
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('serves no deal whose orderDate is after the clock', () => {
    const deals = expectedDeals({ now: '2026-11-20T12:00:00+03:00' }, SITE, '2026-11-20', '2026-11-22')
    expect(deals.length).toBeGreaterThan(0)
    expect(deals.every((r) => r.orderDate.startsWith('20/11/2026') && r.orderDate.slice(11) <= '12:00:00')).toBe(true)
  })

  it('moves older deals towards final or lost as the clock advances', () => {
    const early = expectedDeals({ now: '2026-10-02T00:00:00+03:00' }, SITE, '2026-10-01', '2026-10-01')
    const late = expectedDeals({ now: '2027-03-01T00:00:00+03:00' }, SITE, '2026-10-01', '2026-10-01')
    const count = (records: typeof early, status: string): number =>
      records.filter((r) => r.orderStatus === status).length
    expect(count(early, 'final') + count(early, 'lost')).toBeLessThan(count(late, 'final') + count(late, 'lost'))
    expect(count(early, 'start') + count(early, 'in_progress')).toBeGreaterThan(0)
    const closedLate = late.filter((r) => r.orderStatus === 'final')
    expect(closedLate.every((r) => r.completedAmount !== null && r.completedDate !== null)).toBe(true)
    const changed = late.filter((r) => {
      const before = early.find((e) => e.orderNumber === r.orderNumber)
      return (
        before !== undefined && (before.orderStatus !== r.orderStatus || before.completedAmount !== r.completedAmount)
      )
    })
    expect(changed.length).toBeGreaterThan(late.length / 2)
    // A few deals vanish from the export over time; none appear on an old day.
    const earlyNumbers = new Set(early.map((r) => r.orderNumber))
    expect(late.every((r) => earlyNumbers.has(r.orderNumber))).toBe(true)
  })

  it('follows the weekly rhythm, scales with dealsPerDay and has some empty days', () => {
    const options: SimulatorOptions = {
      sites: [{ siteId: 1, token: 't', dealsPerDay: 60, historyStart: '2025-06-01' }],
    }
    const deals = expectedDeals(options, 1, '2025-05-01', '2026-07-04')
    const byWeekday = new Array<number>(7).fill(0)
    const byDay = new Map<string, number>()
    for (const r of deals) byDay.set(r.orderDate.slice(0, 10), (byDay.get(r.orderDate.slice(0, 10)) ?? 0) + 1)
    for (const [day, n] of byDay) {
      const [d, m, y] = day.split('/').map(Number) as [number, number, number]
      byWeekday[new Date(Date.UTC(y, m - 1, d)).getUTCDay()]! += n
    }
    expect(byWeekday[2]).toBeGreaterThan(byWeekday[0]! * 1.5) // Tuesday vs Sunday
    const days = 399
    expect(deals.length).toBe(23220)
    expect(deals.length / days).toBeGreaterThan(55)
    expect(deals.length / days).toBeLessThan(65)
    expect(days - byDay.size).toBe(8)
    expect(deals.some((r) => r.orderDate.endsWith('/05/2025', 10))).toBe(false)
  })
})

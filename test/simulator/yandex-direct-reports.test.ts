import { afterEach, describe, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.ts'

const TOKEN = 'direct-test-token'
const running: RunningSimulator[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()))
})

async function start(yandexDirect: NonNullable<SimulatorOptions['yandexDirect']> = {}): Promise<RunningSimulator> {
  const sim = await startSimulator({ rateLimit: false, yandexDirect })
  running.push(sim)
  return sim
}

/** A ReportDefinition for 2026-11-21 by day and campaign, with some parameters replaced. */
function definition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    SelectionCriteria: { DateFrom: '2026-11-21', DateTo: '2026-11-21' },
    FieldNames: ['Date', 'CampaignId', 'CampaignName', 'Impressions', 'Clicks', 'Cost'],
    ReportName: 'spend 2026-11-21',
    ReportType: 'CAMPAIGN_PERFORMANCE_REPORT',
    DateRangeType: 'CUSTOM_DATE',
    Format: 'TSV',
    IncludeVAT: 'NO',
    ...overrides,
  }
}

interface ReportResponse {
  status: number
  text: string
  headers: Headers
  error: { request_id: string; error_code: number; error_string: string; error_detail: string } | undefined
}

async function report(
  sim: RunningSimulator,
  params: Record<string, unknown>,
  headers: Record<string, string> = {},
  path = '/json/v5/reports',
): Promise<ReportResponse> {
  const res = await fetch(sim.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    body: JSON.stringify({ params }),
  })
  const text = await res.text()
  const error = res.headers.get('content-type')?.startsWith('application/json')
    ? (JSON.parse(text) as { error: ReportResponse['error'] }).error
    : undefined
  return { status: res.status, text, headers: res.headers, error }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const DAY_21 = [
  '2026-11-21\t70012345\tbrand_moscow\t242\t22\t2192970000',
  '2026-11-21\t70012346\tpoisk_remont_kvartir\t525\t39\t1842570000',
  '2026-11-21\t70012347\trsya_retarget\t603\t22\t1797730000',
  '2026-11-21\t70012349\tvideo_awareness\t568\t28\t803210000',
  '2026-11-21\t70012350\tsmart_banners_test\t192\t6\t636240000',
]

describe('Yandex Direct Reports, online', () => {
  it('answers a small report at once with 200 and the TSV of the digest, title and summary lines included', async () => {
    const sim = await start()
    const res = await report(sim, definition())
    expect(res.status).toBe(200)
    expect(res.headers.get('requestid')).toMatch(/^\d{19}$/)
    expect(res.text).toBe(
      [
        '"spend 2026-11-21 (2026-11-21 - 2026-11-21)"',
        'Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost',
        ...DAY_21,
        'Total rows: 5',
        '',
      ].join('\n'),
    )
  })

  it('is also served at /json/v501/reports', async () => {
    const sim = await start()
    const res = await report(
      sim,
      definition(),
      { skipReportHeader: 'true', skipReportSummary: 'true' },
      '/json/v501/reports',
    )
    expect(res.status).toBe(200)
    expect(res.text.split('\n').slice(1, -1)).toEqual(DAY_21)
  })

  it('writes money as decimals with two places when returnMoneyInMicros is false', async () => {
    const sim = await start()
    const res = await report(sim, definition({ FieldNames: ['CampaignId', 'Cost'] }), {
      returnMoneyInMicros: 'false',
      skipReportHeader: 'true',
      skipColumnHeader: 'true',
      skipReportSummary: 'true',
    })
    expect(res.text).toBe(
      '70012345\t2192.97\n70012346\t1842.57\n70012347\t1797.73\n70012349\t803.21\n70012350\t636.24\n',
    )
  })

  it('leaves out the title, column and summary lines that the skip headers ask to skip', async () => {
    const sim = await start()
    const res = await report(sim, definition(), {
      skipReportHeader: 'true',
      skipColumnHeader: 'true',
      skipReportSummary: 'true',
    })
    expect(res.text).toBe(DAY_21.join('\n') + '\n')
  })

  it('adds VAT of 20% per row, rounded to the kopeck, with IncludeVAT YES', async () => {
    const sim = await start()
    const res = await report(sim, definition({ FieldNames: ['CampaignId', 'Cost'], IncludeVAT: 'YES' }), {
      skipReportHeader: 'true',
      skipColumnHeader: 'true',
      skipReportSummary: 'true',
    })
    expect(res.text.split('\n')[0]).toBe('70012345\t2631560000')
  })

  it('prints -- for AvgCpc on a day with impressions and no clicks', async () => {
    const sim = await start()
    sim.yandexDirect.correct({ campaignId: 70012345, day: '2026-11-21', impressions: 50, clicks: 0, costMicros: 0 })
    const res = await report(
      sim,
      definition({
        FieldNames: ['CampaignId', 'Impressions', 'Clicks', 'Cost', 'AvgCpc'],
        SelectionCriteria: {
          DateFrom: '2026-11-21',
          DateTo: '2026-11-21',
          Filter: [{ Field: 'CampaignId', Operator: 'IN', Values: ['70012345', '70012346'] }],
        },
      }),
      { skipReportHeader: 'true', skipReportSummary: 'true' },
    )
    expect(res.text).toBe(
      'CampaignId\tImpressions\tClicks\tCost\tAvgCpc\n70012345\t50\t0\t0\t--\n70012346\t525\t39\t1842570000\t47250000\n',
    )
  })

  it('sums the period per campaign when Date is not a column', async () => {
    const sim = await start()
    const res = await report(
      sim,
      definition({
        FieldNames: ['CampaignName', 'Clicks'],
        SelectionCriteria: {
          DateFrom: '2026-11-20',
          DateTo: '2026-11-21',
          Filter: [{ Field: 'CampaignId', Operator: 'EQUALS', Values: ['70012345'] }],
        },
      }),
      { skipReportHeader: 'true', skipReportSummary: 'true' },
    )
    expect(res.text).toBe('CampaignName\tClicks\nbrand_moscow\t57\n')
  })

  it('refuses an unknown field with HTTP 400, error 8000 and a detail naming the field', async () => {
    const sim = await start()
    const res = await report(sim, definition({ FieldNames: ['Date', 'Spend'] }))
    expect(res.status).toBe(400)
    expect(res.error).toEqual({
      request_id: res.headers.get('requestid'),
      error_code: 8000,
      error_string: 'Invalid request',
      error_detail: 'params.FieldNames: unknown field "Spend"',
    })
  })

  it('refuses report types it does not simulate, CUSTOM_DATE without dates and dates with other ranges', async () => {
    const sim = await start()
    const details = [
      await report(sim, definition({ ReportType: 'AD_PERFORMANCE_REPORT' })),
      await report(sim, definition({ SelectionCriteria: {} })),
      await report(sim, definition({ DateRangeType: 'YESTERDAY' })),
      await report(sim, definition({ SelectionCriteria: { DateFrom: '2026-11-22', DateTo: '2026-11-21' } })),
    ].map((r) => [r.status, r.error?.error_code])
    expect(details).toEqual([
      [400, 8000],
      [400, 8000],
      [400, 8000],
      [400, 8000],
    ])
  })

  it('refuses days older than 3 years from the first day of the current month with error 4001', async () => {
    const sim = await start()
    const res = await report(sim, definition({ SelectionCriteria: { DateFrom: '2023-10-31', DateTo: '2023-11-01' } }))
    expect([res.status, res.error?.error_code, res.error?.error_detail]).toEqual([
      400,
      4001,
      'statistics are kept from 2023-11-01 (3 years before the first day of this month); ask from that day on',
    ])
  })

  it('answers YESTERDAY with the day before the clock, named in the title line', async () => {
    const sim = await start()
    const res = await report(sim, definition({ DateRangeType: 'YESTERDAY', SelectionCriteria: {} }))
    expect(res.text.split('\n')[0]).toBe('"spend 2026-11-21 (2026-11-28 - 2026-11-28)"')
  })

  it('refuses online a report with more rows than onlineMaxRows, and queues it under auto', async () => {
    const sim = await start({ onlineMaxRows: 3, faults: { buildMs: 60_000 } })
    const online = await report(sim, definition(), { processingMode: 'online' })
    expect([online.status, online.error?.error_code]).toEqual([400, 4002])
    const auto = await report(sim, definition())
    expect([auto.status, auto.headers.get('retryin'), auto.headers.get('reportsinqueue')]).toEqual([201, '1', '1'])
  })
})

describe('Yandex Direct Reports, authorisation', () => {
  it('answers a missing or unknown token with HTTP 400 and error 53', async () => {
    const sim = await start()
    const missing = await report(sim, definition(), { authorization: '' })
    const wrong = await report(sim, definition(), { authorization: 'Bearer nope' })
    const noBearer = await report(sim, definition(), { authorization: TOKEN })
    expect([missing, wrong, noBearer].map((r) => [r.status, r.error?.error_code])).toEqual([
      [400, 53],
      [400, 53],
      [400, 53],
    ])
  })

  it('accepts the advertiser token with its own Client-Login and refuses another login with error 54', async () => {
    const sim = await start()
    expect((await report(sim, definition(), { 'client-login': 'shop-client' })).status).toBe(200)
    const other = await report(sim, definition(), { 'client-login': 'someone-else' })
    expect([other.status, other.error?.error_code]).toEqual([400, 54])
  })

  it('requires Client-Login naming one of its clients with an agency token', async () => {
    const sim = await start({ agencyToken: 'agency-token' })
    const agency = { authorization: 'Bearer agency-token' }
    const without = await report(sim, definition(), agency)
    const stranger = await report(sim, definition(), { ...agency, 'client-login': 'stranger' })
    const client = await report(sim, definition(), { ...agency, 'client-login': 'shop-client' })
    expect([without, stranger, client].map((r) => [r.status, r.error?.error_code])).toEqual([
      [400, 54],
      [400, 54],
      [200, undefined],
    ])
  })

  it('writes error texts in Russian with Accept-Language ru, and can answer auth errors with another status', async () => {
    const sim = await start({ authErrorStatus: 403 })
    const res = await report(sim, definition(), { authorization: 'Bearer nope', 'accept-language': 'ru' })
    expect([res.status, res.error?.error_string]).toEqual([403, 'Ошибка авторизации'])
  })
})

describe('Yandex Direct Reports, offline', () => {
  it('answers 201, then 202 while building, then 200, a client waiting retryIn seconds between polls', async () => {
    const sim = await start({ faults: { forceOffline: true, retryInSeconds: 1, queuedMs: 0, buildMs: 1500 } })
    const statuses: number[] = []
    for (;;) {
      const res = await report(sim, definition())
      statuses.push(res.status)
      if (res.status === 200) {
        expect(res.text.split('\n').slice(2, -2)).toEqual(DAY_21)
        break
      }
      expect([res.headers.get('retryin'), res.headers.get('reportsinqueue')]).toEqual(['1', '1'])
      await sleep(Number(res.headers.get('retryin')) * 1000)
    }
    // 202 at the poll after 1 s; under load a late poll may see a second 202, never none.
    expect(statuses.join(',')).toMatch(/^201,(202,)+200$/)
    expect(sim.yandexDirect.stats().logins['shop-client']?.reportsBuilt).toBe(1)
  })

  it('refuses a sixth report while five are queued or building with HTTP 400 and error 9000', async () => {
    const sim = await start({ faults: { forceOffline: true, buildMs: 60_000 } })
    const statuses: number[] = []
    for (let i = 1; i <= 5; i++) statuses.push((await report(sim, definition({ ReportName: `r${i}` }))).status)
    const sixth = await report(sim, definition({ ReportName: 'r6' }))
    expect(statuses).toEqual([201, 201, 201, 201, 201])
    expect([sixth.status, sixth.error?.error_code]).toEqual([400, 9000])
    expect(sim.yandexDirect.stats().logins['shop-client']?.maxReportsQueued).toBe(5)
  })

  it('refuses a known ReportName with other parameters with HTTP 400 and error 4000', async () => {
    const sim = await start({ faults: { forceOffline: true, buildMs: 60_000 } })
    expect((await report(sim, definition())).status).toBe(201)
    const res = await report(sim, definition({ IncludeVAT: 'YES' }))
    expect([res.status, res.error?.error_code]).toEqual([400, 4000])
  })

  it('serves a finished report as it was built, stale after a correction, while a new name sees the correction', async () => {
    const sim = await start({ faults: { forceOffline: true, queuedMs: 0, buildMs: 0 } })
    const poll = async (name: string): Promise<string> => {
      for (;;) {
        const res = await report(sim, definition({ ReportName: name, FieldNames: ['CampaignId', 'Cost'] }), {
          skipReportHeader: 'true',
          skipColumnHeader: 'true',
          skipReportSummary: 'true',
        })
        if (res.status === 200) return res.text.split('\n')[0] as string
        await sleep(20)
      }
    }
    expect(await poll('run 1')).toBe('70012345\t2192970000')
    sim.yandexDirect.correct({ campaignId: 70012345, day: '2026-11-21', costMicros: 1_000_000_000n })
    expect(await poll('run 1')).toBe('70012345\t2192970000')
    expect(await poll('run 2')).toBe('70012345\t1000000000')
  })

  it('keeps a finished report 5 hours of the simulator clock, then builds it afresh', async () => {
    const sim = await start({ faults: { forceOffline: true, queuedMs: 0, buildMs: 0 } })
    expect((await report(sim, definition())).status).toBe(201)
    await sleep(30)
    sim.setClock('2026-11-29T16:59:59+03:00')
    expect((await report(sim, definition())).status).toBe(200)
    sim.setClock('2026-11-29T17:00:00+03:00')
    expect((await report(sim, definition())).status).toBe(201)
    expect(sim.yandexDirect.reports().map((r) => [r.name, r.createdAt])).toEqual([
      ['spend 2026-11-21', Date.parse('2026-11-29T17:00:00+03:00')],
    ])
  })
})

describe('Yandex Direct limits', () => {
  it('answers the 21st Reports request within 10 s with HTTP 400 and error 56, and counts the window', async () => {
    const sim = await start()
    const statuses: number[] = []
    for (let i = 0; i < 21; i++) statuses.push((await report(sim, definition())).status)
    expect(statuses).toEqual([...Array<number>(20).fill(200), 400])
    const stats = sim.yandexDirect.stats()
    expect(stats.errorsByCode).toEqual({ 56: 1 })
    expect(stats.logins['shop-client']?.maxReportRequestsIn10s).toBe(21)
    expect(stats.logins['shop-client']?.requests).toBe(21)
  })

  it('answers a sixth simultaneous request of one login with error 506', async () => {
    const sim = await start({ faults: { slowRate: 1, slowMs: 1500 } })
    const results = await Promise.all(Array.from({ length: 6 }, () => report(sim, definition())))
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 400])
    expect(results.find((r) => r.status === 400)?.error?.error_code).toBe(506)
    expect(sim.yandexDirect.stats().logins['shop-client']?.maxConcurrent).toBe(5)
  })
})

describe('Yandex Direct faults', () => {
  it('answers a seeded share of requests 500 or 502 with an error body, the same on every run', async () => {
    const statuses = async (): Promise<string[]> => {
      const sim = await start({ faults: { serverErrorRate: 0.5 } })
      const out: string[] = []
      for (let i = 0; i < 10; i++) {
        const res = await report(sim, definition())
        out.push(res.error === undefined ? String(res.status) : `${res.status}/${res.error.error_code}`)
      }
      return out
    }
    const first = await statuses()
    expect(await statuses()).toEqual(first)
    expect(first).toEqual(['200', '500/1000', '200', '502/1002', '200', '200', '200', '502/1002', '502/1002', '200'])
  })

  it('answers 502 with an HTML body that is not JSON', async () => {
    const sim = await start({ faults: { htmlBadGatewayRate: 1 } })
    const res = await report(sim, definition())
    expect([res.status, res.headers.get('content-type'), res.text]).toEqual([
      502,
      'text/html',
      '<html><body><h1>502 Bad Gateway</h1></body></html>',
    ])
  })

  it('cuts a TSV body in half, so the summary line is missing', async () => {
    const sim = await start({ faults: { truncateRate: 1 } })
    const res = await report(sim, definition())
    expect(res.status).toBe(200)
    expect(res.text).not.toContain('Total rows')
    expect(res.text.length).toBeLessThan(250)
    expect(sim.yandexDirect.stats().faultsInjected.truncated).toBe(1)
  })

  it('resets connections, and answers slower than a client timeout', async () => {
    const sim = await start({ faults: { resetRate: 1 } })
    await expect(report(sim, definition())).rejects.toThrow()
    sim.yandexDirect.setFaults({ slowRate: 1, slowMs: 1000 })
    const slow = fetch(`${sim.url}/json/v5/reports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ params: definition() }),
      signal: AbortSignal.timeout(100),
    })
    await expect(slow).rejects.toThrow()
    expect(sim.yandexDirect.stats().faultsInjected).toMatchObject({ reset: 1, slow: 1 })
  })

  it('takes faults and switches from POST /_sim/yandex-direct/faults', async () => {
    const sim = await start()
    const res = await fetch(`${sim.url}/_sim/yandex-direct/faults`, {
      method: 'POST',
      body: JSON.stringify({ forceOffline: true, retryInSeconds: 7 }),
    })
    expect(res.status).toBe(200)
    const queued = await report(sim, definition())
    expect([queued.status, queued.headers.get('retryin')]).toEqual([201, '7'])
  })
})

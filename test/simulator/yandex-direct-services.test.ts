import { afterEach, describe, expect, it } from 'vitest'
import { expectedDeals, startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.ts'

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

async function call(
  sim: RunningSimulator,
  service: string,
  method: string,
  params: Record<string, unknown> = {},
  token = TOKEN,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(`${sim.url}/json/v5/${service}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ method, params }),
  })
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> }
}

async function tsvRows(sim: RunningSimulator, from: string, to: string, name: string): Promise<string[]> {
  const res = await fetch(`${sim.url}/json/v5/reports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, skipReportHeader: 'true', skipReportSummary: 'true' },
    body: JSON.stringify({
      params: {
        SelectionCriteria: { DateFrom: from, DateTo: to },
        FieldNames: ['Date', 'CampaignId', 'CampaignName', 'Impressions', 'Clicks', 'Cost'],
        ReportName: name,
        ReportType: 'CUSTOM_REPORT',
        DateRangeType: 'CUSTOM_DATE',
        Format: 'TSV',
        IncludeVAT: 'NO',
      },
    }),
  })
  expect(res.status).toBe(200)
  return (await res.text()).split('\n').slice(1, -1)
}

describe('Yandex Direct default account', () => {
  it("names its campaigns like the deals' Yandex cpc utm_campaign values, plus two that match no deal", async () => {
    const sim = await start()
    const dealCampaigns = new Set(
      expectedDeals({}, 12345, '2026-10-01', '2026-11-28')
        .filter((d) => d.visit?.utmSource === 'yandex' && d.visit.utmMedium === 'cpc')
        .map((d) => d.visit?.utmCampaign),
    )
    const names = sim.yandexDirect.campaigns('shop-client').map((c) => c.name)
    expect(names.slice(0, 4).sort()).toEqual([...dealCampaigns].sort())
    expect(names.slice(4)).toEqual(['video_awareness', 'smart_banners_test'])
    expect(sim.yandexDirect.campaigns().map((c) => c.id)).toEqual([
      70012345, 70012346, 70012347, 70012348, 70012349, 70012350,
    ])
  })

  it('serves exactly the rows expectedRows returns, today partial and inactive campaign-days left out', async () => {
    const sim = await start()
    const expected = sim.yandexDirect
      .expectedRows('shop-client', '2026-11-27', '2026-11-29')
      .map((r) => [r.day, r.campaignId, r.campaignName, r.impressions, r.clicks, r.costMicros.toString()].join('\t'))
    expect(await tsvRows(sim, '2026-11-27', '2026-11-29', 'three days')).toEqual(expected)
    expect(expected.length).toBe(16)
    expect(expected.filter((line) => line.startsWith('2026-11-29')).length).toBe(6)
  })

  it('generates as many campaigns as an account asks for', async () => {
    const sim = await start({ accounts: [{ login: 'big', token: 'big-token', currency: 'RUB', campaigns: 300 }] })
    const campaigns = sim.yandexDirect.campaigns('big')
    expect(campaigns.length).toBe(300)
    expect(campaigns[0]?.name).toBe('big_campaign_1')
    expect(sim.yandexDirect.expectedRows('big', '2026-11-28', '2026-11-28').length).toBeGreaterThan(200)
  })
})

describe('Yandex Direct JSON services', () => {
  it('answers Clients.get with the login, currency and VAT rate, and a Units header', async () => {
    const sim = await start()
    const res = await call(sim, 'clients', 'get', { FieldNames: ['Login', 'Currency', 'VatRate'] })
    expect(res.json).toEqual({ result: { Clients: [{ Login: 'shop-client', Currency: 'RUB', VatRate: 20 }] } })
    expect([res.headers.get('units'), res.headers.get('units-used-login')]).toEqual(['10/63990/64000', 'shop-client'])
  })

  it('answers errors with HTTP 200 and an error body, as the JSON API does', async () => {
    const sim = await start()
    const badToken = await call(sim, 'clients', 'get', { FieldNames: ['Login'] }, 'nope')
    const badMethod = await call(sim, 'clients', 'update')
    const badField = await call(sim, 'clients', 'get', { FieldNames: ['Balance'] })
    expect(
      [badToken, badMethod, badField].map((r) => [r.status, (r.json['error'] as { error_code: number }).error_code]),
    ).toEqual([
      [200, 53],
      [200, 55],
      [200, 8000],
    ])
  })

  it('gives the clock as the first Timestamp with Changes.checkDictionaries', async () => {
    const sim = await start()
    expect((await call(sim, 'changes', 'checkDictionaries')).json).toEqual({
      result: { Timestamp: '2026-11-29T09:00:00Z' },
    })
  })

  it('lists a corrected campaign with its earliest corrected day as BorderDate in Changes.check', async () => {
    const sim = await start()
    const params = {
      CampaignIds: [70012345, 70012346, 99],
      Timestamp: '2026-11-29T09:00:00Z',
      FieldNames: ['CampaignsStat'],
    }
    expect((await call(sim, 'changes', 'check', params)).json).toEqual({
      result: {
        Modified: { CampaignsStat: [] },
        NotFound: { CampaignIds: [99] },
        Unprocessed: { CampaignIds: [] },
        Timestamp: '2026-11-29T09:00:00Z',
      },
    })
    sim.setClock('2026-11-29T13:00:00+03:00')
    sim.yandexDirect.correct({ campaignId: 70012346, day: '2026-11-26', clicks: 30 })
    sim.yandexDirect.correct({ campaignId: 70012346, day: '2026-11-20', costMicros: 5_000_000n })
    const after = await call(sim, 'changes', 'check', params)
    expect(after.json['result']).toMatchObject({
      Modified: { CampaignsStat: [{ CampaignId: 70012346, BorderDate: '2026-11-20' }] },
      Timestamp: '2026-11-29T10:00:00Z',
    })
    const later = await call(sim, 'changes', 'check', { ...params, Timestamp: '2026-11-29T10:00:01Z' })
    expect(later.json['result']).toMatchObject({ Modified: { CampaignsStat: [] } })
  })

  it('marks corrections STAT and renames SELF in Changes.checkCampaigns', async () => {
    const sim = await start()
    sim.yandexDirect.correct({ campaignId: 70012347, day: '2026-11-27', impressions: 1 })
    sim.yandexDirect.rename({ campaignId: 70012348, name: 'Поиск | Москва | Ремонт 2' })
    expect((await call(sim, 'changes', 'checkCampaigns', { Timestamp: '2026-11-29T09:00:00Z' })).json).toEqual({
      result: {
        Campaigns: [
          { CampaignId: 70012347, ChangesIn: ['STAT'] },
          { CampaignId: 70012348, ChangesIn: ['SELF'] },
        ],
        Timestamp: '2026-11-29T09:00:00Z',
      },
    })
  })

  it('shows a rename in Campaigns.get and in the CampaignName of every report row, old days included', async () => {
    const sim = await start()
    sim.yandexDirect.rename({ campaignId: 70012345, name: 'brand_moscow_2026' })
    const got = await call(sim, 'campaigns', 'get', {
      SelectionCriteria: { Ids: [70012345] },
      FieldNames: ['Id', 'Name'],
    })
    expect(got.json).toEqual({ result: { Campaigns: [{ Id: 70012345, Name: 'brand_moscow_2026' }] } })
    expect((await tsvRows(sim, '2026-11-21', '2026-11-21', 'renamed'))[0]).toBe(
      '2026-11-21\t70012345\tbrand_moscow_2026\t242\t22\t2192970000',
    )
  })
})

describe('Yandex Direct admin paths', () => {
  it('takes corrections by POST, shows them in expected rows, and forgets them on reset', async () => {
    const sim = await start()
    const res = await fetch(`${sim.url}/_sim/yandex-direct/corrections`, {
      method: 'POST',
      body: JSON.stringify([
        { login: 'shop-client', campaignId: '70012350', day: '2026-11-21', costMicros: '123450000' },
      ]),
    })
    expect(await res.json()).toEqual({ applied: 1 })
    const rows = await fetch(
      `${sim.url}/_sim/yandex-direct/expected-rows?login=shop-client&from=2026-11-21&to=2026-11-21`,
    )
    expect(((await rows.json()) as { costMicros: string }[]).at(-1)?.costMicros).toBe('123450000')
    await fetch(`${sim.url}/_sim/yandex-direct/reset`, { method: 'POST' })
    expect(sim.yandexDirect.expectedRows('shop-client', '2026-11-21', '2026-11-21').at(-1)?.costMicros).toBe(
      636_240_000n,
    )
  })

  it('serves the stats by GET, never counting admin calls', async () => {
    const sim = await start()
    await call(sim, 'clients', 'get', { FieldNames: ['Login'] })
    const stats = (await (await fetch(`${sim.url}/_sim/yandex-direct/stats`)).json()) as Record<string, unknown>
    expect(stats).toMatchObject({
      requests: 1,
      answersByStatus: { 200: 1 },
      logins: { 'shop-client': { requests: 1 } },
    })
  })
})

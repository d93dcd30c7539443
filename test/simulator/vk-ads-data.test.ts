import { afterEach, describe, expect, it } from 'vitest'
import { expectedDeals, startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.ts'

const running: RunningSimulator[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()))
})

/** A simulator at the default clock (2026-11-29 12:00 Moscow) and a token of its account. */
async function start(options: SimulatorOptions = {}): Promise<{ sim: RunningSimulator; token: string }> {
  const sim = await startSimulator({ rateLimit: false, ...options })
  running.push(sim)
  const clientId = options.vkAds?.accounts?.[0]?.clientId ?? 'vk-test-client'
  const clientSecret = options.vkAds?.accounts?.[0]?.clientSecret ?? 'vk-test-secret'
  const res = await fetch(`${sim.url}/api/v2/oauth2/token.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
  })
  const { access_token } = (await res.json()) as { access_token: string }
  return { sim, token: access_token }
}

async function get(sim: RunningSimulator, token: string, path: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, json: await res.json() }
}

const ALL_STATUSES = '_status__in=active,blocked,deleted'
const DAY_ZERO = { shows: 0, clicks: 0, goals: 0, spent: '0', cpm: '0', cpc: '0', cpa: '0', ctr: 0, cr: 0 }
const VK = { vk: { goals: 0, cpa: 0, cr: 0 } }

interface StatisticsBody {
  items: { id: number; rows: { date: string; base: { shows: number; clicks: number; spent: string } }[] }[]
}

describe('VK Ads ad plans', () => {
  it('names the default plans like the simulated deals’ VK utm_campaign values', async () => {
    const { sim } = await start()
    const vkCampaigns = new Set(
      expectedDeals({}, 12345, '2026-10-01', '2026-11-28')
        .filter((deal) => deal.visit?.source === 'vk')
        .map((deal) => deal.visit?.utmCampaign),
    )
    expect([...vkCampaigns].sort()).toEqual(['vk_lookalike', 'vk_promo', 'vk_retarget_осень'])
    expect(sim.vkAds.adPlans('vk-test-client')).toEqual([
      { id: 6590114, name: 'vk_leto_2026', status: 'deleted', createdDay: '2026-05-15', lastActiveDay: '2026-09-30' },
      { id: 6617841, name: 'vk_lookalike', status: 'active', createdDay: '2025-01-01', lastActiveDay: undefined },
      { id: 6711647, name: 'vk_retarget_осень', status: 'active', createdDay: '2025-01-01', lastActiveDay: undefined },
      { id: 6758203, name: 'vk_promo', status: 'active', createdDay: '2025-01-01', lastActiveDay: undefined },
      { id: 6802519, name: 'Охват | Москва', status: 'active', createdDay: '2026-06-01', lastActiveDay: undefined },
    ])
  })

  it('lists plans without the deleted one unless a status filter asks for it', async () => {
    const { sim, token } = await start()
    expect(await get(sim, token, '/api/v2/ad_plans.json')).toEqual({
      status: 200,
      json: {
        count: 4,
        offset: 0,
        limit: 20,
        items: [
          { id: 6617841, name: 'vk_lookalike' },
          { id: 6711647, name: 'vk_retarget_осень' },
          { id: 6758203, name: 'vk_promo' },
          { id: 6802519, name: 'Охват | Москва' },
        ],
      },
    })
    const all = await get(sim, token, `/api/v2/ad_plans.json?fields=id,status,date_start,date_end&${ALL_STATUSES}`)
    expect(all.json).toMatchObject({ count: 5 })
    expect((all.json as { items: unknown[] }).items[0]).toEqual({
      id: 6590114,
      status: 'deleted',
      date_start: '2026-05-15',
      date_end: '2026-09-30',
    })
    expect(await get(sim, token, '/api/v2/ad_plans.json?_id__in=6758203,6590114&_status=deleted')).toEqual({
      status: 200,
      json: { count: 1, offset: 0, limit: 20, items: [{ id: 6590114, name: 'vk_leto_2026' }] },
    })
  })

  it('pages 120 generated plans by offset with limit 50', async () => {
    const { sim, token } = await start({
      vkAds: { accounts: [{ clientId: 'big', clientSecret: 's', userId: 7, username: 'big@vk', adPlans: 120 }] },
    })
    const ids: number[] = []
    let count = -1
    for (let offset = 0; count < 0 || offset < count; offset += 50) {
      const page = await get(sim, token, `/api/v2/ad_plans.json?${ALL_STATUSES}&limit=50&offset=${offset}`)
      const body = page.json as { count: number; limit: number; offset: number; items: { id: number }[] }
      expect([body.limit, body.offset]).toEqual([50, offset])
      count = body.count
      ids.push(...body.items.map((item) => item.id))
    }
    expect(count).toBe(120)
    expect(ids).toEqual(Array.from({ length: 120 }, (_, k) => 7_000_001 + k))
    expect(sim.vkAds.adPlans('big').map((plan) => plan.name)[119]).toBe('vk_plan_120')
  })

  it('refuses a limit above 50, clamps it or allows 250 when the options say so', async () => {
    const { sim, token } = await start()
    expect(await get(sim, token, '/api/v2/ad_plans.json?limit=51')).toEqual({
      status: 400,
      json: { error: { message: 'limit: must be at most 50, got 51', code: 'ERR_WRONG_PARAMETER' } },
    })
    const clamped = await start({ vkAds: { overListLimit: 'clamp' } })
    expect((await get(clamped.sim, clamped.token, '/api/v2/ad_plans.json?limit=250')).json).toMatchObject({ limit: 50 })
    const wide = await start({ vkAds: { maxListLimit: 250 } })
    expect((await get(wide.sim, wide.token, '/api/v2/ad_plans.json?limit=250')).json).toMatchObject({ limit: 250 })
  })

  it('serves a renamed plan under its new name everywhere', async () => {
    const { sim, token } = await start()
    await fetch(`${sim.url}/_sim/vk-ads/rename`, {
      method: 'POST',
      body: JSON.stringify({ clientId: 'vk-test-client', adPlanId: 6758203, name: 'vk_promo_зима' }),
    })
    expect((await get(sim, token, '/api/v2/ad_plans.json?_id=6758203&fields=name,updated')).json).toMatchObject({
      items: [{ name: 'vk_promo_зима', updated: '2026-11-29 12:00:00' }],
    })
    expect(sim.vkAds.expectedRows('vk-test-client', '2026-11-25', '2026-11-25').map((r) => r.campaignName)).toContain(
      'vk_promo_зима',
    )
  })
})

describe('VK Ads statistics v2', () => {
  it('answers a small request in exactly the documented shape, zero days included', async () => {
    const { sim, token } = await start()
    const day = { shows: 19904, clicks: 207, goals: 1, spent: '3766.93', cpm: '189.25', cpc: '18.2', cpa: '3766.93' }
    const base = { ...day, ctr: 1.04, cr: 0.4831, ...VK }
    const answer = await get(
      sim,
      token,
      '/api/v2/statistics/ad_plans/day.json?id=6617841&date_from=2026-11-25&date_to=2026-11-26&metrics=base',
    )
    expect(answer).toEqual({
      status: 200,
      json: {
        items: [
          {
            id: 6617841,
            rows: [
              { date: '2026-11-25', base },
              { date: '2026-11-26', base: { ...DAY_ZERO, ...VK } },
            ],
            total: { base },
          },
        ],
        total: { base },
      },
    })
  })

  it('accepts ids as a comma list or repeated, and defaults date_to to today', async () => {
    const { sim, token } = await start()
    const answer = await get(
      sim,
      token,
      '/api/v2/statistics/ad_plans/day.json?id=6617841,6711647&id=6590114&date_from=2026-11-27',
    )
    const body = answer.json as StatisticsBody
    expect(body.items.map((item) => item.id)).toEqual([6617841, 6711647, 6590114])
    expect(body.items[2]!.rows.map((row) => row.date)).toEqual(['2026-11-27', '2026-11-28', '2026-11-29'])
    expect(body.items[2]!.rows.map((row) => row.base.spent)).toEqual(['0', '0', '0'])
  })

  it('refuses 201 ids with ERR_LIMIT_EXCEEDED', async () => {
    const { sim, token } = await start()
    const ids = Array.from({ length: 201 }, (_, k) => 6_000_000 + k).join(',')
    expect(await get(sim, token, `/api/v2/statistics/ad_plans/day.json?id=${ids}&date_from=2026-11-01`)).toEqual({
      status: 400,
      json: { error: { message: 'id: at most 200 objects per request, got 201', code: 'ERR_LIMIT_EXCEEDED' } },
    })
  })

  it('refuses a date 367 days old with ERR_WRONG_DATE and serves one 366 days old', async () => {
    const { sim, token } = await start()
    expect(await get(sim, token, '/api/v2/statistics/ad_plans/day.json?id=6617841&date_from=2025-11-27')).toEqual({
      status: 400,
      json: {
        error: {
          message: 'date_from 2025-11-27: statistics are kept for the last 366 days (from 2025-11-28)',
          code: 'ERR_WRONG_DATE',
        },
      },
    })
    const ok = await get(sim, token, '/api/v2/statistics/ad_plans/day.json?id=6617841&date_from=2025-11-28')
    expect(ok.status).toBe(200)
    expect((ok.json as StatisticsBody).items[0]!.rows).toHaveLength(367)
  })

  it('fails the whole request when one id is unknown, or skips it when asked', async () => {
    const { sim, token } = await start()
    expect(await get(sim, token, '/api/v2/statistics/ad_plans/day.json?id=6617841,999&date_from=2026-11-28')).toEqual({
      status: 400,
      json: {
        error: {
          message: 'Ad plans 999 do not exist or are not accessible to this token',
          code: 'ERR_WRONG_ADPLANS',
        },
      },
    })
    const lenient = await start({ vkAds: { unknownStatisticsIds: 'skip' } })
    const answer = await get(
      lenient.sim,
      lenient.token,
      '/api/v2/statistics/ad_plans/day.json?id=6617841,999&date_from=2026-11-28',
    )
    expect((answer.json as StatisticsBody).items.map((item) => item.id)).toEqual([6617841])
  })

  it('requires id and date_from', async () => {
    const { sim, token } = await start()
    expect((await get(sim, token, '/api/v2/statistics/ad_plans/day.json?date_from=2026-11-01')).json).toEqual({
      error: { message: 'id: this parameter is required', code: 'ERR_WRONG_PARAMETER' },
    })
    expect((await get(sim, token, '/api/v2/statistics/ad_plans/day.json?id=6617841')).json).toEqual({
      error: { message: 'date_from: this parameter is required', code: 'ERR_WRONG_PARAMETER' },
    })
  })

  it('expectedRows equals the non-zero rows statistics serve, deleted plan included', async () => {
    const { sim, token } = await start()
    const ids = sim.vkAds.adPlans('vk-test-client').map((plan) => plan.id)
    const answer = await get(
      sim,
      token,
      `/api/v2/statistics/ad_plans/day.json?id=${ids.join(',')}&date_from=2026-09-20&date_to=2026-11-29`,
    )
    const names = new Map(sim.vkAds.adPlans('vk-test-client').map((plan) => [plan.id, plan.name]))
    const served = (answer.json as StatisticsBody).items
      .flatMap((item) =>
        item.rows
          .filter((row) => row.base.shows + row.base.clicks > 0 || row.base.spent !== '0')
          .map((row) => ({
            day: row.date,
            campaignId: String(item.id),
            campaignName: names.get(item.id),
            impressions: row.base.shows,
            clicks: row.base.clicks,
            costMicros: BigInt(Math.round(Number(row.base.spent) * 100)) * 10_000n,
          })),
      )
      .sort((a, b) => a.day.localeCompare(b.day) || Number(a.campaignId) - Number(b.campaignId))
    const expected = sim.vkAds.expectedRows('vk-test-client', '2026-09-20', '2026-11-29')
    expect(served).toEqual(expected)
    expect(expected.filter((row) => row.campaignId === '6590114').at(-1)?.day).toBe('2026-09-30')
    expect(expected.length).toBeGreaterThan(200)
  })

  it('serves a late correction from the next request on, through the method and the admin path', async () => {
    const { sim, token } = await start()
    const path = '/api/v2/statistics/ad_plans/day.json?id=6617841&date_from=2026-11-25&date_to=2026-11-25'
    sim.vkAds.correct({ clientId: 'vk-test-client', adPlanId: 6617841, day: '2026-11-25', spent: '3000.5' })
    expect((await get(sim, token, path)).json).toMatchObject({
      items: [{ rows: [{ base: { shows: 19904, clicks: 207, spent: '3000.5', cpm: '150.75', cpc: '14.5' } }] }],
    })
    const admin = await fetch(`${sim.url}/_sim/vk-ads/corrections`, {
      method: 'POST',
      body: JSON.stringify([{ clientId: 'vk-test-client', adPlanId: 6617841, day: '2026-11-25', clicks: 150 }]),
    })
    expect(await admin.json()).toEqual({ corrected: 1 })
    expect((await get(sim, token, path)).json).toMatchObject({
      items: [{ rows: [{ base: { shows: 19904, clicks: 150, spent: '3000.5' } }] }],
    })
    expect(sim.vkAds.expectedRows('vk-test-client', '2026-11-25', '2026-11-25')[0]).toEqual({
      day: '2026-11-25',
      campaignId: '6617841',
      campaignName: 'vk_lookalike',
      impressions: 19904,
      clicks: 150,
      costMicros: 3_000_500_000n,
    })
  })

  it('writes money with two decimals when moneyFormat is fixed2', async () => {
    const { sim, token } = await start({ vkAds: { moneyFormat: 'fixed2' } })
    const answer = await get(
      sim,
      token,
      '/api/v2/statistics/ad_plans/day.json?id=6617841&date_from=2026-11-25&date_to=2026-11-26',
    )
    const rows = (answer.json as { items: { rows: { base: Record<string, unknown> }[] }[] }).items[0]!.rows
    expect(rows.map((row) => [row.base['spent'], row.base['cpc']])).toEqual([
      ['3766.93', '18.20'],
      ['0.00', '0.00'],
    ])
  })
})

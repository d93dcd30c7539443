import { Writable } from 'node:stream'
import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DEFAULT_AD_ACCOUNT_SETTINGS, type AdAccountSettings } from '../../pipelines/core/ad-account.ts'
import { createLogger, silentLogger, type Logger } from '../../pipelines/core/logger.ts'
import { HttpRequestError } from '../../pipelines/http/http-request-error.ts'
import type { YandexDirectAccount } from '../../pipelines/sources/yandex-direct/config.ts'
import { syncYandexDirectAccount } from '../../pipelines/sources/yandex-direct/sync-account.ts'
import type { AccountRunMode } from '../../pipelines/warehouse/account-days.ts'
import { readLedger } from '../../pipelines/warehouse/ledger.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

/** The simulator's clock, and the run's: 12:00 in Moscow on 2026-11-29. */
const NOW = new Date('2026-11-29T09:00:00Z')
const TODAY = '2026-11-29'
/** One advertiser per test, each with a token of its own, so no test sees another's ledger, rows or limits. */
const LOGINS = [
  'backfill-client',
  'reread-client',
  'poll-client',
  'cache-client',
  'storm-client',
  'split-client',
  'limit-client',
  'stop-client',
]
const tokenOf = (login: string): string => `direct-token-of-${login}`
/** retryIn seconds become this many milliseconds. */
const RETRY_IN_SCALE_MS = 100
const TIMING = { retryInScaleMs: RETRY_IN_SCALE_MS, reportTimeoutMs: 20_000 }

/** The URL of a fetch call, however it was given. */
function urlOf(input: Parameters<typeof fetch>[0]): string {
  if (typeof input === 'string') return input
  return input instanceof URL ? input.href : input.url
}

/** The product sends its bodies as strings. */
function textOf(body: RequestInit['body']): string {
  if (typeof body !== 'string') throw new Error('a request body that is not a string')
  return body
}

interface StoredRow {
  day: string
  campaignId: string
  campaignName: string
  impressions: number
  clicks: number
  costMicros: bigint
}

describeEachEngine('syncing a Yandex Direct account against the simulator', (engine) => {
  let tw: TestWarehouse
  let sim: RunningSimulator

  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    sim = await startSimulator({
      now: NOW.toISOString(),
      timeZone: 'Europe/Moscow',
      yandexDirect: {
        accounts: LOGINS.map((login) => ({
          login,
          token: tokenOf(login),
          currency: 'RUB',
          historyStart: '2025-06-01',
        })),
      },
    })
  })
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  function account(login: string, overrides: Partial<YandexDirectAccount> = {}): YandexDirectAccount {
    return {
      type: 'yandex-direct',
      token: tokenOf(login),
      siteId: 12345,
      startDate: '2026-01-01',
      timeZone: 'Europe/Moscow',
      utm: { source: 'yandex', medium: 'cpc', campaign: 'id' },
      baseUrl: sim.url,
      where: 'adAccounts[1]',
      ...overrides,
    }
  }

  async function sync(
    target: YandexDirectAccount,
    mode: AccountRunMode,
    options: { settings?: Partial<AdAccountSettings>; logger?: Logger; fetch?: typeof fetch } = {},
  ) {
    return syncYandexDirectAccount({
      db: tw.warehouse.db,
      runId: await startRun(tw.warehouse.db, 'sync'),
      account: target,
      mode,
      settings: { ...DEFAULT_AD_ACCOUNT_SETTINGS, ...options.settings },
      now: NOW,
      logger: options.logger ?? silentLogger(),
      timing: TIMING,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    })
  }

  async function storedRows(login: string): Promise<StoredRow[]> {
    const { rows } = await sql<{
      day: string
      campaign_id: string
      campaign_name: string
      impressions: number
      clicks: number
      cost_micros: string
    }>`select to_char(stat_date, 'YYYY-MM-DD') as day, campaign_id::text as campaign_id, campaign_name,
         impressions::integer as impressions, clicks::integer as clicks, cost_micros::text as cost_micros
       from marketing.ad_campaign_stats
       where source_system = 'yandex-direct' and account = ${login}
       order by stat_date, campaign_id`.execute(tw.warehouse.db)
    return rows.map((row) => ({
      day: row.day,
      campaignId: row.campaign_id,
      campaignName: row.campaign_name,
      impressions: row.impressions,
      clicks: row.clicks,
      costMicros: BigInt(row.cost_micros),
    }))
  }

  it('backfills 90 days into exactly the rows the simulator holds, cost in exact micros, every day ok in the ledger', async () => {
    const login = 'backfill-client'
    const result = await sync(account(login), { kind: 'backfill', from: '2026-09-01', to: TODAY })
    const expected = sim.yandexDirect.expectedRows(login, '2026-09-01', TODAY)
    expect(expected.length).toBeGreaterThan(400)
    expect(await storedRows(login)).toEqual(expected)
    expect(result).toMatchObject({
      type: 'yandex-direct',
      account: login,
      currency: 'RUB',
      siteId: 12345,
      where: 'adAccounts[1]',
      daysRead: 90,
      inserted: expected.length,
      updated: 0,
      deleted: 0,
      unchanged: 0,
      retries: 0,
      failures: [],
      error: null,
    })
    const ledger = await readLedger(tw.warehouse.db, { source: 'yandex-direct', account: login })
    expect(ledger).toHaveLength(90)
    expect(ledger.every((day) => day.status === 'ok')).toBe(true)
    const { rows } = await sql<{
      currencies: string
      vat: boolean
    }>`select string_agg(distinct currency, ',') as currencies, bool_or(includes_vat) as vat
       from marketing.ad_campaign_stats where account = ${login}`.execute(tw.warehouse.db)
    expect(rows).toEqual([{ currencies: 'RUB', vat: false }])
  })

  it('writes no row when it reads the same days again unchanged', async () => {
    const login = 'reread-client'
    const mode: AccountRunMode = { kind: 'backfill', from: '2026-10-01', to: '2026-11-28' }
    const first = await sync(account(login, { clientLogin: login, currency: 'RUB' }), mode)
    const before = await sql<{ run_id: string; loaded_at: Date }>`
      select run_id::text as run_id, loaded_at from marketing.ad_campaign_stats where account = ${login}
      order by stat_date, campaign_id`.execute(tw.warehouse.db)
    const again = await sync(account(login, { clientLogin: login, currency: 'RUB' }), mode)
    expect(again).toMatchObject({
      daysRead: 59,
      inserted: 0,
      updated: 0,
      deleted: 0,
      unchanged: first.inserted,
      failures: [],
      error: null,
    })
    const after = await sql<{ run_id: string; loaded_at: Date }>`
      select run_id::text as run_id, loaded_at from marketing.ad_campaign_stats where account = ${login}
      order by stat_date, campaign_id`.execute(tw.warehouse.db)
    expect(after.rows).toEqual(before.rows)
  })

  it('polls reports built offline no sooner than their retryIn, with the identical request, until they come', async () => {
    const login = 'poll-client'
    sim.yandexDirect.setFaults({ forceOffline: true, retryInSeconds: 3, queuedMs: 200, buildMs: 500 })
    const sent: { atMs: number; body: string }[] = []
    const recording: typeof fetch = (input, init) => {
      if (urlOf(input).endsWith('/json/v5/reports')) sent.push({ atMs: performance.now(), body: textOf(init?.body) })
      return fetch(input, init)
    }
    try {
      const result = await sync(
        account(login, { clientLogin: login, currency: 'RUB' }),
        { kind: 'backfill', from: '2026-11-01', to: '2026-11-28' },
        { fetch: recording },
      )
      expect(result.failures).toEqual([])
      expect(await storedRows(login)).toEqual(sim.yandexDirect.expectedRows(login, '2026-11-01', '2026-11-28'))
    } finally {
      sim.yandexDirect.setFaults({})
    }
    const answers = sim.yandexDirect.stats().logins[login]?.answersByStatus
    // One report: 201, then 202 while it builds (if ever), then 200.
    expect(answers?.['201']).toBe(1)
    expect(answers?.['202']).toBeGreaterThanOrEqual(1)
    expect(answers?.['200']).toBe(1)
    expect(new Set(sent.map((request) => request.body)).size).toBe(1)
    for (let index = 1; index < sent.length; index++)
      expect(sent[index]!.atMs - sent[index - 1]!.atMs).toBeGreaterThanOrEqual(3 * RETRY_IN_SCALE_MS - 5)
  })

  it('never takes a report cached under its name for fresh data: a correction after a first run is in the table after the next', async () => {
    const login = 'cache-client'
    const target = account(login, { clientLogin: login })
    const mode: AccountRunMode = { kind: 'backfill', from: '2026-11-20', to: '2026-11-28' }
    sim.yandexDirect.setFaults({ forceOffline: true, queuedMs: 10, buildMs: 10 })
    try {
      await sync(target, mode)
      const firstNames = sim.yandexDirect.reports(login).map((report) => report.name)
      // A campaign-day the first run stored: its correction is an update.
      const corrected = sim.yandexDirect.expectedRows(login, '2026-11-25', '2026-11-25')[0]!
      sim.yandexDirect.correct({
        login,
        campaignId: corrected.campaignId,
        day: '2026-11-25',
        clicks: 3,
        costMicros: '1230000',
      })
      const second = await sync(target, mode)
      const secondNames = sim.yandexDirect
        .reports(login)
        .map((report) => report.name)
        .filter((name) => !firstNames.includes(name))
      expect(firstNames).toHaveLength(1)
      expect(secondNames).toHaveLength(1)
      expect(secondNames[0]).not.toBe(firstNames[0])
      expect(second).toMatchObject({ updated: 1, inserted: 0, deleted: 0, failures: [], error: null })
    } finally {
      sim.yandexDirect.setFaults({})
    }
    const stored = await storedRows(login)
    expect(stored).toEqual(sim.yandexDirect.expectedRows(login, '2026-11-20', '2026-11-28'))
    const firstOfDay = sim.yandexDirect.expectedRows(login, '2026-11-25', '2026-11-25')[0]!
    expect(stored.find((row) => row.day === '2026-11-25' && row.campaignId === firstOfDay.campaignId)).toMatchObject({
      clicks: 3,
      costMicros: 1230000n,
    })
  })

  it('leaves the table identical through a storm of 500s, 502s, cut-off bodies and dropped connections', async () => {
    const login = 'storm-client'
    const target = account(login, { clientLogin: login, currency: 'RUB' })
    const mode: AccountRunMode = { kind: 'backfill', from: '2026-08-01', to: '2026-11-28' }
    await sync(target, mode)
    const clean = await storedRows(login)
    sim.yandexDirect.setFaults({ serverErrorRate: 0.3, htmlBadGatewayRate: 0.15, truncateRate: 0.3, resetRate: 0.1 })
    let stormy
    try {
      stormy = await sync(target, mode, { settings: { maxRetries: 2 } })
    } finally {
      sim.yandexDirect.setFaults({})
    }
    const faults = sim.yandexDirect.stats().faultsInjected
    expect(faults.serverError + faults.htmlBadGateway + faults.truncated + faults.reset).toBeGreaterThan(0)
    expect(stormy.error).toBeNull()
    expect(await storedRows(login)).toEqual(clean)
    expect(stormy).toMatchObject({ inserted: 0, updated: 0, deleted: 0 })
    const ledger = await readLedger(tw.warehouse.db, { source: 'yandex-direct', account: login })
    const failedDays = ledger.filter((day) => day.status === 'failed').length
    const failedInResult = stormy.failures.reduce(
      (days, failure) => days + (Date.parse(failure.lastDay) - Date.parse(failure.firstDay)) / 86_400_000 + 1,
      0,
    )
    expect(failedDays).toBe(failedInResult)
    expect(stormy.daysRead + failedDays).toBe(120)
    // The next run without faults reads every day again, and the table is still the simulator's.
    const after = await sync(target, mode)
    expect(after.failures).toEqual([])
    expect(await storedRows(login)).toEqual(clean)
  })

  it('reads a range whose report is too big to build (502 twice) in halves, down to what builds', async () => {
    const login = 'split-client'
    const asked: string[] = []
    // Direct gives up building any report of more than 7 days.
    const tooBig: typeof fetch = async (input, init) => {
      if (urlOf(input).endsWith('/json/v5/reports')) {
        const { DateFrom, DateTo } = (
          JSON.parse(textOf(init?.body)) as { params: { SelectionCriteria: { DateFrom: string; DateTo: string } } }
        ).params.SelectionCriteria
        asked.push(`${DateFrom}..${DateTo}`)
        if ((Date.parse(DateTo) - Date.parse(DateFrom)) / 86_400_000 >= 7)
          return new Response('<html>502 Bad Gateway</html>', { status: 502 })
      }
      return fetch(input, init)
    }
    const result = await sync(
      account(login, { clientLogin: login, currency: 'RUB' }),
      { kind: 'backfill', from: '2026-11-01', to: '2026-11-28' },
      { fetch: tooBig },
    )
    expect(result).toMatchObject({ daysRead: 28, failures: [], error: null })
    expect([...new Set(asked)]).toEqual([
      '2026-11-01..2026-11-28',
      '2026-11-01..2026-11-14',
      '2026-11-01..2026-11-07',
      '2026-11-08..2026-11-14',
      '2026-11-15..2026-11-28',
      '2026-11-15..2026-11-21',
      '2026-11-22..2026-11-28',
    ])
    expect(await storedRows(login)).toEqual(sim.yandexDirect.expectedRows(login, '2026-11-01', '2026-11-28'))
  })

  it('never sends more than 20 Reports requests in any 10 seconds, polls included, nor more than 5 reports queued', async () => {
    const login = 'limit-client'
    // Reports that take a while to build, polled every 100 ms: far more requests than 20 in 10 s wanted.
    sim.yandexDirect.setFaults({ forceOffline: true, retryInSeconds: 1, queuedMs: 300, buildMs: 1500 })
    let result
    try {
      result = await sync(account(login), { kind: 'backfill', from: '2026-03-01', to: '2026-11-28' })
    } finally {
      sim.yandexDirect.setFaults({})
    }
    expect(result).toMatchObject({ failures: [], error: null, daysRead: 273 })
    const stats = sim.yandexDirect.stats().logins[login]
    expect(stats?.reportRequests).toBeGreaterThan(20)
    expect(stats?.maxReportRequestsIn10s).toBe(20)
    expect(stats?.maxReportsQueued).toBeLessThanOrEqual(5)
    expect(stats?.maxConcurrent).toBeLessThanOrEqual(5)
    expect(stats?.errorsByCode).toEqual({})
    expect(await storedRows(login)).toEqual(sim.yandexDirect.expectedRows(login, '2026-03-01', '2026-11-28'))
  }, 90_000)

  it('stops waiting for its reports when the run is stopped, throwing, and records no day of it', async () => {
    const login = 'stop-client'
    sim.yandexDirect.setFaults({ forceOffline: true, retryInSeconds: 60 })
    const stop = new AbortController()
    setTimeout(() => stop.abort(), 300)
    try {
      const error = await syncYandexDirectAccount({
        db: tw.warehouse.db,
        runId: await startRun(tw.warehouse.db, 'sync'),
        account: account(login, { clientLogin: login, currency: 'RUB' }),
        mode: { kind: 'backfill', from: '2026-11-01', to: '2026-11-28' },
        settings: DEFAULT_AD_ACCOUNT_SETTINGS,
        now: NOW,
        logger: silentLogger(),
        signal: stop.signal,
        timing: TIMING,
      }).catch((thrown: unknown) => thrown)
      expect(error).toBeInstanceOf(HttpRequestError)
      expect((error as HttpRequestError).kind).toBe('stopped')
      expect((error as HttpRequestError).message).toBe(
        'Yandex Direct report of stop-client for 2026-11-01..2026-11-28: interrupted, the run is stopping',
      )
    } finally {
      sim.yandexDirect.setFaults({})
    }
    expect(await readLedger(tw.warehouse.db, { source: 'yandex-direct', account: login })).toEqual([])
  })

  it('fails an account whose token is refused with one line and the fix, records its days failed, and never shows the token', async () => {
    const token = 'y0_revoked-Direct+token/42'
    const lines: string[] = []
    const logger = createLogger({
      format: 'json',
      level: 'debug',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString('utf8'))
          done()
        },
      }),
    })
    const target = account('auth-client', { token, clientLogin: 'auth-client', currency: 'RUB' })
    const result = await sync(target, { kind: 'backfill', from: '2026-11-01', to: '2026-11-28' }, { logger })
    const reason =
      /^Yandex Direct refused the token \(HTTP 400, error 53 Authorization error: the OAuth token is invalid, revoked or expired; get a new token at oauth\.yandex\.ru, RequestId \d+\): get a new OAuth token at oauth\.yandex\.ru for an app with Direct API access and set it in adAccounts\[1\]\.token \(or its tokenEnv variable\)$/
    expect(result.error).toMatch(reason)
    expect(result).toMatchObject({ account: 'auth-client', daysRead: 0, inserted: 0, retries: 0 })
    expect(result.failures).toEqual([{ firstDay: '2026-11-01', lastDay: '2026-11-28', error: result.error }])
    const ledger = await readLedger(tw.warehouse.db, { source: 'yandex-direct', account: 'auth-client' })
    expect(ledger).toHaveLength(28)
    const { rows } = await sql<{ error: string | null }>`
      select distinct error from etl.ledger where source = 'yandex-direct' and account = 'auth-client'`.execute(
      tw.warehouse.db,
    )
    expect(rows).toEqual([{ error: result.error }])
    const everything = [JSON.stringify(result), JSON.stringify(rows), ...lines].join('\n')
    expect(everything).not.toContain(token)
    expect(everything).not.toContain('revoked-Direct')
  })

  it('cannot even name an account whose token is refused without a configured login: the result says why, the ledger is untouched', async () => {
    const result = await sync(account('nobody', { token: 'y0_unknown-token-77' }), { kind: 'sync' })
    expect(result.account).toBeNull()
    expect(result.error).toMatch(
      /^Yandex Direct refused the token \(HTTP 200, error 53 Authorization error: .*, RequestId \d+\): get a new OAuth token at oauth\.yandex\.ru/,
    )
    expect(result.error).not.toContain('y0_unknown-token-77')
    expect(result.failures).toEqual([])
  })
})

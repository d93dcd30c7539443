import { afterAll, beforeAll, expect, it } from 'vitest'
import { addDays, daysBetween } from '../../pipelines/core/day.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import type { CliResult } from '../helpers/cli.ts'
import {
  E2E_NOW,
  E2E_TOKEN,
  OutputLog,
  runE2eCli,
  scratchDir,
  tokenLeaksInWarehouse,
  writeConfigFile,
} from '../helpers/e2e-harness.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

/** Ten days without a deal, then ~1,500 a day: the first busy window holds more than a window may. */
const QUIET_THEN_BUSY_SITE = 990
/** ~40 deals a day and one day of 25,000. */
const ONE_BIG_DAY_SITE = 991
const FROM = '2026-10-21'
const TO = '2026-11-19'
const BIG_DAY = '2026-11-07'
const CLI_TEST_TIMEOUT_MS = 240_000

interface DayRow {
  site_id: number
  status: string
  days: number
}

/**
 * The layouts of issue 14 that made a backfill ask the same first page for ever, over real HTTP
 * (the simulator, rate limit on) into real PostgreSQL, through the command.
 */
describePostgres('a first backfill of quiet days before busy ones, and of one very big day among small ones', () => {
  const log = new OutputLog()
  let sim: RunningSimulator
  let tw: TestWarehouse
  let result: CliResult

  beforeAll(async () => {
    ;[sim, tw] = await Promise.all([
      startSimulator({
        now: E2E_NOW,
        seed: 14,
        sites: [
          { siteId: QUIET_THEN_BUSY_SITE, token: E2E_TOKEN, dealsPerDay: 1500, historyStart: addDays(FROM, 10) },
          { siteId: ONE_BIG_DAY_SITE, token: E2E_TOKEN, dealsPerDay: 40, dealsOnDays: { [BIG_DAY]: 25_000 } },
        ],
      }),
      createTestWarehouse('postgres'),
    ])
    const config = writeConfigFile(scratchDir('busy-layouts'), {
      baseUrl: sim.url,
      // Deals only: the cases are about the deals' windows and count their requests.
      sites: [
        { id: QUIET_THEN_BUSY_SITE, tokenEnv: 'CT_TOKEN', streams: ['deals'] },
        { id: ONE_BIG_DAY_SITE, tokenEnv: 'CT_TOKEN', streams: ['deals'] },
      ],
    })
    result = await runE2eCli(
      log,
      ['backfill', '--config', config, '--from', FROM, '--to', TO],
      tw.env,
      CLI_TEST_TIMEOUT_MS - 30_000,
    )
  }, CLI_TEST_TIMEOUT_MS)
  afterAll(async () => {
    await Promise.all([sim?.close(), tw?.destroy()])
  })

  /** The windows the run loaded, per site, from its log lines. */
  const loadedWindows = (siteId: number): string[] =>
    [
      ...result.stderr.matchAll(
        new RegExp(`"msg":"site ${siteId} (\\d{4}-\\d{2}-\\d{2}\\.\\.\\d{4}-\\d{2}-\\d{2}): `, 'g'),
      ),
    ].map((match) => match[1] as string)

  it(
    'ends, loads every deal of both sites and marks every day read, exit code 0',
    async () => {
      expect(result.exitCode, result.stderr.slice(-2000)).toBe(0)
      for (const siteId of [QUIET_THEN_BUSY_SITE, ONE_BIG_DAY_SITE]) {
        const expected = sim
          .expectedDeals(siteId, FROM, TO)
          .map((deal) => deal.orderNumber)
          .sort()
        const loaded = await executeSql<{ order_number: string }>(
          tw.warehouse.db,
          'select order_number from calltouch.orders where site_id = $1 order by order_number',
          [siteId],
        )
        expect(loaded.map((row) => row.order_number)).toEqual(expected)
      }
      // 25,000 created; ~1 % vanish from the export later, as the simulator's deals do.
      expect(sim.expectedDeals(ONE_BIG_DAY_SITE, BIG_DAY, BIG_DAY)).toHaveLength(24_901)
      expect(sim.expectedDeals(QUIET_THEN_BUSY_SITE, FROM, addDays(FROM, 9))).toHaveLength(0)
      const days = daysBetween(FROM, TO) + 1
      expect(
        await executeSql<DayRow>(
          tw.warehouse.db,
          'select site_id, status, count(*)::integer as days from etl.site_days group by site_id, status order by site_id',
        ),
      ).toEqual([
        { site_id: QUIET_THEN_BUSY_SITE, status: 'ok', days },
        { site_id: ONE_BIG_DAY_SITE, status: 'ok', days },
      ])
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it('spends at most 1.1 × ⌈deals/1000⌉ + one request per window, reading the big day in a window of the fewest days', () => {
    const deals = [QUIET_THEN_BUSY_SITE, ONE_BIG_DAY_SITE].reduce(
      (sum, siteId) => sum + sim.expectedDeals(siteId, FROM, TO).length,
      0,
    )
    // The simulator's dateTo includes its day, and a lone last day is asked as two (equal dates are refused): the day after TO comes along.
    const dayAfter = [QUIET_THEN_BUSY_SITE, ONE_BIG_DAY_SITE].reduce(
      (sum, siteId) => sum + sim.expectedDeals(siteId, addDays(TO, 1), addDays(TO, 1)).length,
      0,
    )
    const windows = loadedWindows(QUIET_THEN_BUSY_SITE).length + loadedWindows(ONE_BIG_DAY_SITE).length
    const requests = Number(/, (\d+) request\(s\), /.exec(result.stdout)?.[1])
    expect(requests).toBe(sim.stats().requests.byEndpoint.export)
    expect(requests).toBeLessThanOrEqual(1.1 * Math.ceil((deals + dayAfter) / 1000) + windows)
    const bigDayWindow = loadedWindows(ONE_BIG_DAY_SITE).find((window) => {
      const [first, last] = window.split('..') as [string, string]
      return first <= BIG_DAY && BIG_DAY <= last
    })
    // Once dateTo is known to include its day, a window has two days (one would be asked as two anyway).
    expect(bigDayWindow).toMatch(
      new RegExp(`^(${addDays(BIG_DAY, -1)}\\.\\.${BIG_DAY}|${BIG_DAY}\\.\\.(${BIG_DAY}|${addDays(BIG_DAY, 1)}))$`),
    )
  })

  it('never lets the token into an output or a table', async () => {
    expect(log.leaks()).toEqual([])
    expect(await tokenLeaksInWarehouse(tw.warehouse.db)).toEqual([])
  })
})

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addDays, todayIn } from '../../pipelines/core/day.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { runCli, type CliResult } from '../helpers/cli.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

/** CLI runs on a busy 2-core machine: PGlite starts in 2–5 s and each run starts tsx. */
const CLI_TEST_TIMEOUT_MS = 180_000
const SITE_ID = 4242
const TOKEN = 'sync/tok+en.with=='
const ENCODED_TOKEN = encodeURIComponent(TOKEN)
const NOW = new Date()
const TODAY = todayIn('Europe/Moscow', NOW)
const START = addDays(TODAY, -59)
const LOOKBACK_FIRST = addDays(TODAY, -29)

interface OrderRow {
  order_number: string
  status: string | null
  completed_amount: string | null
  is_deleted: boolean
  removed: boolean
}

describe('sync and backfill configuration', () => {
  it('refuses a bad configuration, naming every problem, exit 2 before the warehouse is touched', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sync-config-'))
    const dataDir = path.join(dir, 'warehouse')
    const bad = path.join(dir, 'bad.json')
    writeFileSync(
      bad,
      JSON.stringify({
        sites: [
          { id: 'x', token: TOKEN },
          { id: 5, tokenEnv: 'NOT_SET', timeZone: 'Moon/Base' },
        ],
      }),
    )
    const result = await runCli(['sync', '--config', bad], { CALLTOUCH_ETL_DATA_DIR: dataDir })
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe(
      `error: the Calltouch config file ${bad} has 3 problems — fix and run again: sites[0].id: Invalid input: expected number, received string; sites[1].tokenEnv: the environment variable NOT_SET is not set or empty: export it with the site's API token; sites[1].timeZone: "Moon/Base" is not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)\n`,
    )
    const good = path.join(dir, 'good.json')
    writeFileSync(good, JSON.stringify({ sites: [{ id: SITE_ID, token: TOKEN }] }))
    const backwards = await runCli(['backfill', '--config', good, '--from', TODAY, '--to', START], {
      CALLTOUCH_ETL_DATA_DIR: dataDir,
    })
    expect(backwards).toMatchObject({
      exitCode: 2,
      stderr: `error: backfill: --from ${TODAY} is after --to ${START}: give the earlier day first\n`,
    })
    expect(existsSync(dataDir)).toBe(false)
  })
})

describeEachEngine('sync and backfill against the simulator', (engine) => {
  let tw: TestWarehouse
  let sim: RunningSimulator
  let configFile: string
  const outputs: string[] = []

  const cli = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    await tw.release()
    const result = await runCli(args, { ...tw.env, CT_TOKEN: TOKEN, ...env }, { timeoutMs: 120_000 })
    outputs.push(result.stdout, result.stderr)
    await tw.reopen()
    return result
  }

  /** The warehouse's deals of days first..last, in the simulator's terms. */
  const warehouseDeals = async (first: string, last: string): Promise<OrderRow[]> => {
    const { rows } = await sql<OrderRow>`
      select order_number, status, completed_amount::text as completed_amount, is_deleted, removed_from_source_at is not null as removed
      from calltouch.orders where site_id = ${SITE_ID} and order_day between ${first} and ${last} order by order_number`.execute(
      tw.warehouse.db,
    )
    return rows.filter((row) => !row.removed)
  }

  const simulatorDeals = (first: string, last: string): OrderRow[] =>
    sim
      .expectedDeals(SITE_ID, first, last)
      .map((deal) => ({
        order_number: deal.orderNumber,
        status: deal.orderStatus,
        completed_amount: deal.completedAmount === null ? null : Number(deal.completedAmount).toFixed(2),
        is_deleted: deal.isDeleted,
        removed: false,
      }))
      .sort((a, b) => (a.order_number < b.order_number ? -1 : 1))

  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    sim = await startSimulator({
      now: NOW.toISOString(),
      seed: 11,
      sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay: 6 }],
    })
    configFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'sync-test-')), 'calltouch.json')
    // Deals only: these cases count the deals' requests, days and lines exactly.
    writeFileSync(
      configFile,
      JSON.stringify({
        baseUrl: sim.url,
        sites: [{ id: SITE_ID, tokenEnv: 'CT_TOKEN', startDate: START, streams: ['deals'] }],
        timeoutMs: 3000,
        maxRetries: 1,
      }),
    )
  })
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  it(
    'backfills 60 days with every deal the simulator serves, within 5 requests a second and no 429',
    async () => {
      const result = await cli(['backfill', '--config', configFile, '--from', START, '--to', TODAY])
      expect(result.stderr).not.toContain('"level":"error"')
      expect(result.exitCode).toBe(0)
      const expected = simulatorDeals(START, TODAY)
      expect(result.stdout).toMatch(
        new RegExp(
          `^backfill: 1 site\\(s\\), 60 day\\(s\\), \\d+ request\\(s\\), 0 retries, ${expected.length} record\\(s\\) seen, ${expected.length} changed, 0 rejected, \\d+\\.\\d s\\n$`,
        ),
      )
      expect(await warehouseDeals(START, TODAY)).toEqual(expected)
      const stats = sim.stats()
      expect(stats.rejected429).toBe(0)
      expect(stats.maxRequestsInAnySecond).toBeLessThanOrEqual(5)
      const run = await tw.warehouse.db.selectFrom('etl.runs').selectAll().executeTakeFirstOrThrow()
      expect(run).toMatchObject({ command: 'backfill', status: 'succeeded', error: null })
      expect(run.counters).toMatchObject({
        sites: 1,
        days: 60,
        daysFailed: 0,
        windowsFailed: 0,
        seen: expected.length,
        changed: expected.length,
        rejected: 0,
      })
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'backfills the same days again under 5xx, 429 bursts, cut-off bodies, resets and timeouts at once, and the warehouse ends exactly as it was',
    async () => {
      const snapshot = async (): Promise<unknown[]> => {
        const { rows } = await sql`
        select o.order_number, o.order_date, o.status, o.completed_amount::text, o.is_deleted, o.removed_from_source_at is null as present, o.payload_hash,
          (select count(*)::int from raw.calltouch_orders r where r.site_id = o.site_id and r.order_number = o.order_number) as versions,
          (select string_agg(t.tag, ',' order by t.tag) from calltouch.tags t where t.site_id = o.site_id and t.order_number = o.order_number) as tags,
          (select string_agg(c.field || '=' || c.value::text, ',' order by c.field) from calltouch.custom_fields c where c.site_id = o.site_id and c.order_number = o.order_number) as customs
        from calltouch.orders o where o.site_id = ${SITE_ID} order by o.order_number`.execute(tw.warehouse.db)
        return rows
      }
      const before = await snapshot()
      const stormy = path.join(path.dirname(configFile), 'stormy.json')
      writeFileSync(
        stormy,
        JSON.stringify({
          baseUrl: sim.url,
          sites: [{ id: SITE_ID, tokenEnv: 'CT_TOKEN', startDate: START, streams: ['deals'] }],
          timeoutMs: 1500,
          maxRetries: 10,
        }),
      )
      sim.setFaults({
        failureRate: 0.1,
        burst429: { rate: 0.1, length: 2 },
        truncateRate: 0.1,
        resetRate: 0.1,
        slowRate: 0.1,
        slowMs: 2500,
      })
      try {
        const result = await cli(['backfill', '--config', stormy, '--from', START, '--to', TODAY])
        expect(result.exitCode).toBe(0)
        const injected = Object.values(sim.stats().faultsInjected).reduce((sum, count) => sum + count, 0)
        expect(injected).toBeGreaterThan(0)
        expect(Number(/(\d+) retr/.exec(result.stdout)?.[1])).toBe(injected)
      } finally {
        sim.setFaults({})
      }
      expect(await snapshot()).toEqual(before)
      expect(await warehouseDeals(START, TODAY)).toEqual(simulatorDeals(START, TODAY))
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'reads only the look-back window on the next sync, in as few requests as the deals allow',
    async () => {
      const before = sim.stats().requests.total
      const result = await cli(['sync', '--config', configFile])
      expect(result.exitCode).toBe(0)
      const records = sim.expectedDeals(SITE_ID, LOOKBACK_FIRST, addDays(TODAY, 1)).length
      expect(result.stdout).toMatch(
        /^sync: 1 site\(s\), 30 day\(s\), 1 request\(s\), 0 retries, \d+ record\(s\) seen, 0 changed, 0 rejected, /,
      )
      expect(sim.stats().requests.total - before).toBe(Math.ceil(records / 1000))
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'records a window that keeps failing and exits 1; the next run completes it and brings in changed statuses, amounts, deleted flags and vanished deals',
    async () => {
      sim.setFaults({ failureRate: 1 })
      const failing = await cli(['sync', '--config', configFile, '--lookback-days', '2'])
      expect(failing.exitCode).toBe(1)
      expect(failing.stdout).toMatch(
        new RegExp(
          `^sync: 1 site\\(s\\), 2 day\\(s\\) \\(2 failed\\), 2 request\\(s\\), 1 retry, 0 record\\(s\\) seen, 0 changed, 0 rejected, \\d+\\.\\d s\\nfailed: site ${SITE_ID} ${addDays(TODAY, -1)}\\.\\.${TODAY}: deals of site ${SITE_ID} from ${addDays(TODAY, -1)} to ${addDays(TODAY, 1)}, page 1: HTTP 50\\d from Calltouch\\n$`,
        ),
      )
      const failed = await tw.warehouse.db
        .selectFrom('etl.ledger')
        .select(['day', 'status'])
        .where('status', '=', 'failed')
        .orderBy('day')
        .execute()
      expect(failed).toEqual([
        { day: addDays(TODAY, -1), status: 'failed' },
        { day: TODAY, status: 'failed' },
      ])
      const run = await tw.warehouse.db
        .selectFrom('etl.runs')
        .select(['status'])
        .orderBy('run_id', 'desc')
        .executeTakeFirstOrThrow()
      expect(run.status).toBe('failed')

      // The next run, with the clock 40 days on: the failed days and every change show up.
      sim.setFaults({})
      sim.setClock(new Date(NOW.getTime() + 40 * 86_400_000).toISOString())
      const recovering = await cli(['sync', '--config', configFile, '--lookback-days', '60'])
      expect(recovering.exitCode).toBe(0)
      expect(recovering.stdout).toMatch(/^sync: 1 site\(s\), 60 day\(s\), 1 request\(s\), /)
      expect(
        await tw.warehouse.db.selectFrom('etl.ledger').select('day').where('status', '=', 'failed').execute(),
      ).toEqual([])
      expect(await warehouseDeals(START, TODAY)).toEqual(simulatorDeals(START, TODAY))
      expect(Number(/(\d+) changed/.exec(recovering.stdout)?.[1])).toBeGreaterThan(0)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it('never lets the token into an output, a log line or a table', async () => {
    for (const output of outputs) {
      expect(output).not.toContain(TOKEN)
      expect(output).not.toContain(ENCODED_TOKEN)
    }
    const { rows } = await sql<{ leaks: number }>`
      select (select count(*) from etl.runs r where r::text like ${`%${TOKEN}%`} or r::text like ${`%${ENCODED_TOKEN}%`})
           + (select count(*) from etl.ledger d where d::text like ${`%${TOKEN}%`} or d::text like ${`%${ENCODED_TOKEN}%`})
           + (select count(*) from raw.calltouch_orders o where o::text like ${`%${TOKEN}%`} or o::text like ${`%${ENCODED_TOKEN}%`}) as leaks`.execute(
      tw.warehouse.db,
    )
    expect(Number(rows[0]?.leaks)).toBe(0)
  })
})

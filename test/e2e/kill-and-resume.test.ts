import { ABANDONED_RUN_ERROR } from '../../pipelines/warehouse/run-ledger.ts'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.ts'
import { warehouseChecksums } from '../helpers/e2e-checksum.ts'
import {
  E2E_NOW,
  E2E_TOKEN,
  OutputLog,
  runE2eCli,
  scratchDir,
  seededRandom,
  spawnCli,
  tokenLeaksInWarehouse,
  writeConfigFile,
} from '../helpers/e2e-harness.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_IDS = [808, 809, 810] as const
const FROM = '2026-11-01'
const TO = '2026-11-20'
const DAYS = 20
const KILLS = 20
/**
 * Three sites × 20 days, each reading its default streams. Deals, ~100 a day: each site is read
 * as a 7-day probe window and one of 13 days (2 pages), so a run commits 6 deal windows and a
 * kill can find any number of them loaded. Leads: ~40 calls a day (a probe and one window a
 * site) and ~10 requests (one request and one commit a day, whatever their number): ~70 reads a
 * run, which the 5 requests a second and the faults make last 15–30 s. 20 days rather than the
 * 90 this suite read before the leads: the requests journal costs a request a day, and kills
 * spread over whole runs would otherwise take many minutes. The latency makes the reads, not
 * the machine's load, take most of a run's time.
 */
const SIMULATOR: SimulatorOptions = {
  now: E2E_NOW,
  seed: 8,
  latencyMs: 150,
  sites: SITE_IDS.map((siteId) => ({
    siteId,
    token: E2E_TOKEN,
    dealsPerDay: 100,
    callsPerDay: 40,
    requestsPerDay: 10,
  })),
}
const FAULTS = { failureRate: 0.1, truncateRate: 0.05, resetRate: 0.05, burst429: { rate: 0.05, length: 2 } }
/** The log line a run writes once it holds the lock and has planned its days: its work starts there. */
const WORK_STARTS = 'day(s) to read'
/** The log line of a deal window committed (each load is one transaction). */
const WINDOW_LOADED = /"msg":"site \d+ \d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}: \d+ deal\(s\), \d+ changed"/g
/** The log line of any read committed: a deal window, a calls window or a day of requests. */
const READ_LOADED =
  /"msg":"site \d+ (?:(?:calls|requests) )?\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}: \d+ (?:deal|lead)\(s\), \d+ changed"/g
/** Deal windows of a run: a probe and one more per site. */
const WINDOWS = 6
/**
 * The longest a kill waits after its moment's window. Two windows load at once and an unchanged
 * reload is quick: measured, a rerun finished within ~200 ms of its fourth window's line and
 * within ~20 ms of its fifth's, so a longer wait, or a moment after the fourth window (KILL_MOMENTS),
 * mostly found the run done and tested nothing.
 */
const MAX_KILL_DELAY_MS = 200
/**
 * Even kills come after 0..3 deal windows committed (see above), while the leads load beside them;
 * odd kills after 0..n−2 reads of any part committed, n those of the clean run, so that kills land
 * all along the leads' longer tail too (the deals are done within the first few seconds).
 */
const KILL_MOMENTS = WINDOWS - 2

interface LedgerMismatch {
  source: string
  account: string
  day: string
  ledger: number
  held: number
}

describePostgres('a backfill killed with SIGKILL at 20 moments and run again', () => {
  const log = new OutputLog()
  let faulty: RunningSimulator
  let clean: RunningSimulator
  let killed: TestWarehouse
  let reference: TestWarehouse

  beforeAll(async () => {
    ;[faulty, clean, killed, reference] = await Promise.all([
      startSimulator({ ...SIMULATOR, faults: FAULTS }),
      startSimulator(SIMULATOR),
      createTestWarehouse('postgres'),
      createTestWarehouse('postgres'),
    ])
  })
  afterAll(async () => {
    await Promise.all([faulty?.close(), clean?.close(), killed?.destroy(), reference?.destroy()])
  })

  const configFor = (sim: RunningSimulator): string =>
    writeConfigFile(scratchDir('kill'), {
      baseUrl: sim.url,
      sites: SITE_IDS.map((id) => ({ id, tokenEnv: 'CT_TOKEN' })),
      timeoutMs: 5000,
      maxRetries: 10,
    })

  /**
   * Days the ledger says were read completely whose deals (calltouch.orders), calls or requests do
   * not number what the ledger says.
   */
  const ledgerMismatches = (tw: TestWarehouse): Promise<LedgerMismatch[]> =>
    executeSql<LedgerMismatch>(
      tw.warehouse.db,
      `
      with held as (
        select 'calltouch-deals' as source, site_id::text as account, order_day as day from calltouch.orders
        where removed_from_source_at is null
        union all
        select 'calltouch-calls', site_id::text, call_day from calltouch.calls where removed_from_source_at is null
        union all
        select 'calltouch-requests', site_id::text, request_day from calltouch.requests where removed_from_source_at is null
      )
      select l.source, l.account, l.day::text as day, l.records as ledger, count(h.day)::integer as held
      from etl.ledger l
      left join held h on h.source = l.source and h.account = l.account and h.day = l.day
      where l.status = 'ok' and l.source in ('calltouch-deals', 'calltouch-calls', 'calltouch-requests')
      group by l.source, l.account, l.day, l.records having count(h.day) <> l.records
      order by l.source, l.account, l.day`,
    )

  /** Leads held: calls and requests of every site. */
  const leadsHeld = async (tw: TestWarehouse): Promise<number> => {
    const [row] = await executeSql<{ leads: number }>(
      tw.warehouse.db,
      'select ((select count(*) from calltouch.calls) + (select count(*) from calltouch.requests))::integer as leads',
    )
    return row?.leads ?? 0
  }

  it('ends with the same deals, leads, raw versions and marts, table by table, as one uninterrupted run without faults', async () => {
    // The clean run first: its log tells how many windows a run commits, where the kills are placed.
    const cleanResult = log.keep(
      await spawnCli(['backfill', '--config', configFor(clean), '--from', FROM, '--to', TO], reference.env).exited,
    )
    expect(cleanResult.exitCode).toBe(0)
    expect(cleanResult.stderr.match(WINDOW_LOADED)).toHaveLength(WINDOWS)
    // Reads of all parts in a run: 6 deal windows, the calls windows, and a day of requests each.
    const reads = cleanResult.stderr.match(READ_LOADED)?.length ?? 0
    expect(reads).toBeGreaterThan(WINDOWS + SITE_IDS.length * DAYS)
    const total = SITE_IDS.reduce((sum, siteId) => sum + clean.expectedDeals(siteId, FROM, TO).length, 0)
    const leads = SITE_IDS.reduce(
      (sum, siteId) =>
        sum + clean.expectedCalls(siteId, FROM, TO).length + clean.expectedRequests(siteId, FROM, TO).length,
      0,
    )
    const leadsLine = (changed: string): string =>
      `backfill leads: 6 stream\\(s\\), ${2 * SITE_IDS.length * DAYS} day\\(s\\), \\d+ request\\(s\\), \\d+ retr(y|ies), ${leads} lead\\(s\\) seen, ${changed} changed, 0 rejected, 0 removed`
    expect(cleanResult.stdout).toMatch(
      new RegExp(
        `^backfill: 3 site\\(s\\), ${SITE_IDS.length * DAYS} day\\(s\\), \\d+ request\\(s\\), \\d+ retr(y|ies), ${total} record\\(s\\) seen, ${total} changed, 0 rejected, \\d+\\.\\d s\\n${leadsLine(String(leads))}\\n$`,
      ),
    )

    // The clean warehouse's marts are built while the other is being killed.
    const cleanTransform = runE2eCli(log, ['transform'], reference.env)
    const backfill = ['backfill', '--config', configFor(faulty), '--from', FROM, '--to', TO]
    const random = seededRandom(20261129)
    const outcomes: {
      after: string
      delayMs: number
      signal: string | null
      exitCode: number
      orders: number
      leads: number
      said: string
    }[] = []
    for (let i = 0; i < KILLS; i++) {
      // A moment is "so many windows (or reads) committed, then so many ms": counted in the run's
      // own progress rather than in wall time, the kills land all along the work however busy
      // the machine is — before any load, between loads and inside them.
      const counted = i % 2 === 0 ? WINDOW_LOADED : READ_LOADED
      const afterCommits = Math.floor(random() * (i % 2 === 0 ? KILL_MOMENTS : reads - 1))
      const delayMs = Math.round(random() * MAX_KILL_DELAY_MS)
      const run = spawnCli(backfill, killed.env)
      await run.waitForStderr(
        (stderr) => stderr.includes(WORK_STARTS) && (stderr.match(counted)?.length ?? 0) >= afterCommits,
      )
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      run.kill('SIGKILL')
      const result = await run.exited
      log.keep(result)
      const [row] = await executeSql<{ orders: number }>(
        killed.warehouse.db,
        'select count(*)::integer as orders from calltouch.orders',
      )
      outcomes.push({
        after: `${afterCommits} ${i % 2 === 0 ? 'deal window(s)' : 'read(s)'}`,
        delayMs,
        signal: result.signal,
        exitCode: result.exitCode,
        orders: row?.orders ?? 0,
        leads: await leadsHeld(killed),
        said: result.stdout.trim(),
      })
      // Data before state: whatever moment the kill hit, a day the ledger calls read has exactly its deals, calls or requests.
      expect(await ledgerMismatches(killed)).toEqual([])
    }
    const landed = outcomes.filter((outcome) => outcome.signal === 'SIGKILL')
    // A kill after the last windows often finds the run already done (that run's reads were
    // unchanged reloads); most land inside it, and the first ones find the warehouse part loaded.
    expect(landed.length, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(10)
    expect(
      outcomes.some((outcome) => outcome.signal === 'SIGKILL' && outcome.orders > 0 && outcome.orders < total),
      JSON.stringify(outcomes),
    ).toBe(true)
    expect(
      outcomes.some((outcome) => outcome.signal === 'SIGKILL' && outcome.leads > 0 && outcome.leads < leads),
      JSON.stringify(outcomes),
    ).toBe(true)

    const final = await runE2eCli(log, backfill, killed.env)
    expect(final.exitCode).toBe(0)
    expect(final.stdout).toMatch(
      new RegExp(
        `^backfill: 3 site\\(s\\), ${SITE_IDS.length * DAYS} day\\(s\\), \\d+ request\\(s\\), \\d+ retr(y|ies), ${total} record\\(s\\) seen, \\d+ changed, 0 rejected, \\d+\\.\\d s\\n${leadsLine('\\d+')}\\n$`,
      ),
    )
    expect(await ledgerMismatches(killed)).toEqual([])

    expect((await cleanTransform).exitCode).toBe(0)
    expect((await runE2eCli(log, ['transform'], killed.env)).exitCode).toBe(0)
    const expected = await warehouseChecksums(reference.warehouse.db, ['calltouch', 'analytics', 'raw'])
    expect(expected['calltouch.orders']?.rows).toBe(total)
    expect((expected['calltouch.calls']?.rows ?? 0) + (expected['calltouch.requests']?.rows ?? 0)).toBe(leads)
    expect(expected['analytics.fct_leads']?.rows).toBe(leads)
    expect(await warehouseChecksums(killed.warehouse.db, ['calltouch', 'analytics', 'raw'])).toEqual(expected)
    expect(faulty.stats().faultsInjected.serverError).toBeGreaterThan(0)
    // The killed runs' rows were closed by the runs after them; none is left 'running' for ever.
    const runs = await killed.warehouse.db.selectFrom('etl.runs').select(['status', 'error']).execute()
    // A kill can also land after a run recorded its success, so the killed rows number at most the kills.
    expect(runs.filter((run) => run.status === 'running')).toEqual([])
    expect(runs.filter((run) => run.status !== 'succeeded' && run.error !== ABANDONED_RUN_ERROR)).toEqual([])
    const abandoned = runs.filter((run) => run.error === ABANDONED_RUN_ERROR).length
    expect(abandoned).toBeGreaterThan(0)
    expect(abandoned).toBeLessThanOrEqual(landed.length)
  }, 900_000)

  it('never lets the token into an output or a table', async () => {
    expect(log.leaks()).toEqual([])
    expect(await tokenLeaksInWarehouse(killed.warehouse.db)).toEqual([])
    expect(await tokenLeaksInWarehouse(reference.warehouse.db)).toEqual([])
  })
})

import path from 'node:path'
import { DateTime } from 'luxon'
import { afterAll, afterEach, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { warehouseChecksums } from '../helpers/e2e-checksum.ts'
import {
  E2E_TOKEN,
  OutputLog,
  runE2eCli,
  scratchDir,
  spawnCli,
  tokenLeaksInWarehouse,
  writeConfigFile,
  type SpawnedCli,
} from '../helpers/e2e-harness.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

/**
 * `schedule --distributed` over real HTTP (the simulator) and real PostgreSQL, the scheduler and
 * its workers child processes of the real command line. The simulator's clock is the real one, as
 * a scheduled sync plans its days from the wall clock. Its rate limit is off: the workers share one
 * loopback address (the egress's limit is proved elsewhere).
 */
const processes: SpawnedCli[] = []

function start(args: readonly string[], env: Record<string, string>): SpawnedCli {
  const spawned = spawnCli(args, { CALLTOUCH_ETL_LOG_FORMAT: 'json', ...env })
  processes.push(spawned)
  return spawned
}

afterEach(async () => {
  const running = processes.splice(0)
  for (const spawned of running) spawned.kill('SIGTERM')
  await Promise.all(running.map((spawned) => spawned.exited))
})

const log = new OutputLog()
afterAll(() => {
  expect(log.leaks()).toEqual([])
})

const SITE_IDS = [1981, 1982, 1983, 1984]

/**
 * Two sites read deals only, two every stream; each with a start date 5 days ago: 6 days a stream.
 * `config` names them all; `configOf` writes a config file of some of them (a worker's).
 */
async function simulatedSites(): Promise<{
  sim: RunningSimulator
  config: string
  configOf: (siteIds: readonly number[], name: string) => string
}> {
  const today = DateTime.now().setZone('Europe/Moscow')
  const sim = await startSimulator({
    now: today.toISO() as string,
    seed: 1981,
    rateLimit: false,
    sites: SITE_IDS.map((siteId) => ({
      siteId,
      token: E2E_TOKEN,
      dealsPerDay: 4,
      callsPerDay: 3,
      requestsPerDay: 2,
      historyStart: today.minus({ days: 30 }).toISODate() as string,
    })),
  })
  const startDate = today.minus({ days: 5 }).toISODate() as string
  const dir = scratchDir('distributed-schedule')
  const configOf = (siteIds: readonly number[], name: string): string =>
    writeConfigFile(
      dir,
      {
        baseUrl: sim.url,
        timeoutMs: 5000,
        sites: siteIds.map((id) => ({
          id,
          tokenEnv: 'CT_TOKEN',
          startDate,
          ...(SITE_IDS.indexOf(id) < 2 ? { streams: ['deals'] } : {}),
        })),
      },
      name,
    )
  return { sim, config: configOf(SITE_IDS, 'calltouch.json'), configOf }
}

/**
 * Schedulers that tick once, together, a few seconds from now: a 6-field cron expression in UTC
 * for that second (then not until next year), so a night's rows are exactly one schedule, one sync
 * and one transform. A scheduler that started too late for it (a loaded machine) would wait a
 * year: then all are stopped and started again for a later second.
 */
async function startOnce(
  runs: readonly { args: readonly string[]; env: Record<string, string> }[],
): Promise<{ schedulers: SpawnedCli[]; cron: string; at: string }> {
  for (let attempt = 1; ; attempt++) {
    const at = DateTime.utc()
      .plus({ seconds: 12 * attempt })
      .startOf('second')
    const cron = `${at.second} ${at.minute} ${at.hour} ${at.day} ${at.month} *`
    const schedulers = runs.map((run) => start([...run.args, '--cron', cron, '--timezone', 'UTC'], run.env))
    await Promise.all(schedulers.map((scheduler) => scheduler.waitForStderr((text) => text.includes('"nextRun"'))))
    if (schedulers.every((scheduler) => scheduler.stderr().includes(`"nextRun":"${at.toISO()}"`)))
      return { schedulers, cron, at: at.toISO() }
    if (attempt === 3) throw new Error(`no scheduler started within ${12 * attempt} s, 3 times`)
    for (const scheduler of schedulers) scheduler.kill('SIGKILL')
    await Promise.all(schedulers.map((scheduler) => scheduler.exited))
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

interface RunRow {
  command: string
  status: string
  error: string | null
  arguments: Record<string, unknown>
  counters: Record<string, number>
}

async function runRows(tw: TestWarehouse): Promise<RunRow[]> {
  return executeSql<RunRow>(
    tw.warehouse.db,
    'select command, status, error, arguments, counters from etl.runs order by run_id',
  )
}

/**
 * The rows without what differs between two runs over the same data: durations (the transform's
 * per model too), and how the days were cut and asked for (each job reads its chunk on its own:
 * windows, lead reads, requests).
 */
function comparable(rows: readonly RunRow[]): unknown[] {
  return rows.map(({ counters, ...row }) => ({
    ...row,
    counters: Object.fromEntries(
      Object.entries(counters).filter(
        ([name]) => !/durationMs|^seconds\.|^windows$|^leadsReads$|[rR]equests|[rR]etries|peakPagesHeld/.test(name),
      ),
    ),
  }))
}

async function waitForRows(tw: TestWarehouse, what: string, done: (rows: RunRow[]) => boolean): Promise<RunRow[]> {
  const deadline = Date.now() + 120_000
  for (;;) {
    const rows = await runRows(tw)
    if (done(rows)) return rows
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(rows)}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** The scheduler's own lines (not the runs'), with times and durations left out. */
function schedulerLines(stderr: string): string[] {
  return stderr
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { msg: string })
    .map((line) => line.msg)
    .filter((msg) => /^(scheduled |tick \d|stopping|stopped)/.test(msg))
}

describePostgres('schedule --distributed with workers', () => {
  it("runs each night's sync as jobs for the workers, then the transform: the same rows, lines and warehouse as an in-process schedule", async () => {
    const { sim, config } = await simulatedSites()
    const [distributed, single] = await Promise.all([createTestWarehouse('postgres'), createTestWarehouse('postgres')])
    try {
      const stateDir = path.join(scratchDir('distributed-schedule-state'), 'state')
      const distributedEnv = { ...distributed.env, CALLTOUCH_ETL_STATE_DIR: stateDir }
      const singleEnv = { ...single.env, CALLTOUCH_ETL_STATE_DIR: stateDir }
      const workers = [0, 1].map(() => start(['worker', '--config', config], distributedEnv))
      await Promise.all(workers.map((worker) => worker.waitForStderr((text) => text.includes('worker ready'))))
      // Both schedulers tick once, at the same second.
      const { schedulers, cron, at } = await startOnce([
        { args: ['schedule', '--config', config, '--distributed', '--chunk-days', '2'], env: distributedEnv },
        { args: ['schedule', '--config', config], env: singleEnv },
      ])
      const [coordinator, reference] = schedulers as [SpawnedCli, SpawnedCli]

      const finished = (rows: RunRow[]): boolean =>
        rows.some((row) => row.command === 'schedule' && row.status !== 'running')
      const [distributedRows, singleRows] = await Promise.all([
        waitForRows(distributed, 'the distributed night', finished),
        waitForRows(single, 'the in-process night', finished),
      ])
      coordinator.kill('SIGTERM')
      reference.kill('SIGTERM')
      const [coordinatorEnd, referenceEnd] = await Promise.all([coordinator.exited, reference.exited])
      log.keep(coordinatorEnd)
      log.keep(referenceEnd)
      expect([coordinatorEnd.exitCode, referenceEnd.exitCode]).toEqual([0, 0])

      expect(distributedRows.map((row) => [row.command, row.status, row.error])).toEqual([
        ['schedule', 'succeeded', null],
        ['sync', 'succeeded', null],
        ['transform', 'succeeded', null],
      ])
      // 4 sites, 6 days of each stream: 4 × 6 deal days in 12 jobs of one window each, and 2 × 2 × 6
      // lead days (calls and requests).
      expect(distributedRows[1]?.counters).toMatchObject({
        days: 24,
        daysFailed: 0,
        windows: 12,
        windowsFailed: 0,
        leadsDays: 24,
        leadsDaysFailed: 0,
        leadsReadsFailed: 0,
      })
      expect(comparable(distributedRows)).toEqual(comparable(singleRows))
      expect(await warehouseChecksums(distributed.warehouse.db, ['calltouch', 'raw', 'analytics'])).toEqual(
        await warehouseChecksums(single.warehouse.db, ['calltouch', 'raw', 'analytics']),
      )

      // The night's reads were the workers' jobs (3 of 2 days per stream), each done once; none is left.
      const jobs = await executeSql<{ state: string; retries: number; jobs: number }>(
        distributed.warehouse.db,
        `select state::text as state, retry_count as retries, count(*)::int as jobs from pgboss.job group by 1, 2`,
      )
      expect(jobs).toEqual([{ state: 'completed', retries: 0, jobs: 2 * 3 + 2 * 3 * 3 }])
      // The same scheduler lines as in one process, JSON all through.
      const expectedLines = [
        `scheduled '${cron}' in UTC; next run ${at}`,
        'tick 1: run starting',
        'tick 1: run finished',
        'stopping (SIGTERM)',
        'stopped',
      ]
      expect(schedulerLines(coordinatorEnd.stderr)).toEqual(expectedLines)
      expect(schedulerLines(referenceEnd.stderr)).toEqual(expectedLines)
      // The deals' and the leads' jobs: 4 sites' and 4 journals' 3 chunks each.
      expect(coordinatorEnd.stderr.match(/"msg":"\d+ job\(s\) queued"/g)).toEqual([
        '"msg":"12 job(s) queued"',
        '"msg":"12 job(s) queued"',
      ])
      expect(await tokenLeaksInWarehouse(distributed.warehouse.db)).toEqual([])
    } finally {
      await Promise.all([sim.close(), distributed.destroy(), single.destroy()])
    }
  }, 240_000)

  it('records a night whose job fails every time partial with the reason, still transforms, and the scheduler runs on', async () => {
    const { sim, config, configOf } = await simulatedSites()
    const tw = await createTestWarehouse('postgres')
    try {
      const env = { ...tw.env, CALLTOUCH_ETL_STATE_DIR: path.join(scratchDir('distributed-schedule-state'), 'state') }
      // The worker's configuration lacks site 1984: each attempt at its jobs fails.
      const worker = start(['worker', '--config', configOf(SITE_IDS.slice(0, 3), 'worker.json')], env)
      await worker.waitForStderr((text) => text.includes('worker ready'))
      const { schedulers } = await startOnce([
        { args: ['schedule', '--distributed', '--job-retries', '0', '--config', config], env },
      ])
      const [scheduler] = schedulers as [SpawnedCli]
      const rows = await waitForRows(tw, 'the night', (found) =>
        found.some((row) => row.command === 'schedule' && row.status !== 'running'),
      )
      // A failed night is the night's: the scheduler logs it finished and runs on until stopped.
      await scheduler.waitForStderr((text) => text.includes('"msg":"tick 1: run finished"'))
      scheduler.kill('SIGTERM')
      const end = await scheduler.exited
      log.keep(end)
      expect(end.exitCode).toBe(0)
      expect(schedulerLines(end.stderr).slice(1)).toEqual([
        'tick 1: run starting',
        'tick 1: run finished',
        'stopping (SIGTERM)',
        'stopped',
      ])

      const reason =
        "job failed: site 1984 is not in this worker's configuration (sites: 1981, 1982, 1983): give every worker the coordinator's config file (1 attempt(s))"
      expect(rows.map((row) => [row.command, row.status])).toEqual([
        ['schedule', 'partial'],
        ['sync', 'partial'],
        ['transform', 'succeeded'],
      ])
      expect(rows[0]?.error).toBe('the sync failed some days (see the sync run)')
      // Site 1984's deals, calls and requests: one job each, of its 6 days.
      const today = DateTime.now().setZone('Europe/Moscow')
      const days = `${today.minus({ days: 5 }).toISODate()}..${today.toISODate()}`
      expect(rows[1]?.error).toMatch(
        new RegExp(
          `^${escape(`1 window(s) failed; first: site 1984 ${days}: ${reason}; 2 lead read(s) failed; first: site 1984 `)}(calls|requests) ${escape(`${days}: ${reason}`)}$`,
        ),
      )
      expect(rows[1]?.counters).toMatchObject({ days: 24, daysFailed: 6, leadsDays: 24, leadsDaysFailed: 12 })
    } finally {
      await Promise.all([sim.close(), tw.destroy()])
    }
  }, 120_000)

  it('stops on SIGTERM while following its jobs: exit 0, the run recorded interrupted, the jobs not taken cancelled', async () => {
    const { sim, config } = await simulatedSites()
    const tw = await createTestWarehouse('postgres')
    try {
      const env = { ...tw.env, CALLTOUCH_ETL_STATE_DIR: path.join(scratchDir('distributed-schedule-state'), 'state') }
      // No worker: the night's jobs wait in the queue and the sync follows them until stopped.
      const scheduler = start(['schedule', '--distributed', '--config', config, '--cron', '* * * * * *'], env)
      await waitForRows(tw, 'a sync in flight', (rows) => rows.some((row) => row.command === 'sync'))
      await scheduler.waitForStderr((text) => text.includes('job(s) queued'))
      const signalledAt = Date.now()
      scheduler.kill('SIGTERM')
      const end = await scheduler.exited
      log.keep(end)
      expect(end.exitCode).toBe(0)
      expect(Date.now() - signalledAt).toBeLessThan(5_000)

      const rows = await runRows(tw)
      expect(rows.map((row) => [row.command, row.status, row.error])).toEqual([
        ['schedule', 'failed', 'interrupted during sync: stopped by SIGTERM'],
        ['sync', 'failed', 'interrupted after 0 window(s): stopped by SIGTERM'],
      ])
      const jobs = await executeSql<{ state: string; jobs: number }>(
        tw.warehouse.db,
        `select state::text as state, count(*)::int as jobs from pgboss.job group by 1`,
      )
      expect(jobs).toEqual([{ state: 'cancelled', jobs: 2 + 2 * 3 }])
      expect(schedulerLines(end.stderr).slice(-3)).toEqual([
        'stopping (SIGTERM): aborting the run in flight',
        'tick 1: run failed: interrupted during sync: stopped by SIGTERM',
        'stopped',
      ])
    } finally {
      await Promise.all([sim.close(), tw.destroy()])
    }
  }, 120_000)

  it('refuses the embedded warehouse in one line, exit 2, before scheduling anything', async () => {
    const dataDir = path.join(scratchDir('distributed-schedule-embedded'), 'warehouse')
    const refused = await runE2eCli(log, ['schedule', '--distributed'], {
      CALLTOUCH_ETL_DATA_DIR: dataDir,
      CALLTOUCH_SITE_ID: '1985',
      CALLTOUCH_API_TOKEN: E2E_TOKEN,
    })
    expect(refused).toEqual({
      exitCode: 2,
      stdout: '',
      stderr:
        "error: schedule --distributed needs a PostgreSQL warehouse (DATABASE_URL): the embedded warehouse is one process's alone; run without --distributed, or set DATABASE_URL\n",
    })
  })
})

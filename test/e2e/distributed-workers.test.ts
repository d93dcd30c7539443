import path from 'node:path'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.ts'
import { warehouseChecksums } from '../helpers/e2e-checksum.ts'
import {
  E2E_NOW,
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
 * `backfill --distributed` over real HTTP (the simulator) and real PostgreSQL, its workers child
 * processes of the real command line. Small sites and few days keep each case within seconds; the
 * simulator's rate limit is off, as three workers on one loopback address would otherwise share one
 * limit of 5 a second (binding each to its own address is the egress's, not these cases').
 */
/** A worker with its output, to stop at the end of a case. */
const workers: SpawnedCli[] = []

function startWorker(env: Record<string, string>, config: string, concurrency = 2): SpawnedCli {
  const worker = spawnCli(['worker', '--config', config, '--concurrency', String(concurrency)], env)
  workers.push(worker)
  return worker
}

/** Jobs each stopped worker says it completed (its last line). */
async function stopWorkers(): Promise<number[]> {
  const running = workers.splice(0)
  for (const worker of running) worker.kill('SIGTERM')
  const ended = await Promise.all(running.map((worker) => worker.exited))
  return ended.map((result) => Number(/worker: (\d+) job\(s\) completed/.exec(result.stdout)?.[1] ?? -1))
}

afterEach(async () => {
  await stopWorkers()
})

function simulatorOf(siteIds: readonly number[], options: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return {
    now: E2E_NOW,
    seed: 19,
    rateLimit: false,
    sites: siteIds.map((siteId) => ({ siteId, token: E2E_TOKEN, dealsPerDay: 4, callsPerDay: 3, requestsPerDay: 2 })),
    ...options,
  }
}

function configFile(
  sim: RunningSimulator,
  sites: readonly { id: number; streams?: readonly string[] }[],
  name = 'calltouch.json',
): string {
  return writeConfigFile(
    scratchDir('distributed'),
    { baseUrl: sim.url, sites: sites.map((site) => ({ ...site, tokenEnv: 'CT_TOKEN' })), timeoutMs: 5000 },
    name,
  )
}

interface RunRow {
  command: string
  status: string
  error: string | null
  days: number | null
}

async function runRows(tw: TestWarehouse): Promise<RunRow[]> {
  return executeSql<RunRow>(
    tw.warehouse.db,
    `select command, status, error, (counters ->> 'days')::int as days from etl.runs order by run_id`,
  )
}

/** The summary line's counts, the duration and the requests aside (chunks cost requests of their own). */
function countsOf(line: string | undefined): string {
  return (line ?? '').replace(/, \d+ request\(s\)/, '').replace(/, [\d.]+ s$/, '')
}

describePostgres('backfill --distributed with workers', () => {
  const log = new OutputLog()
  let stateDir: string

  beforeAll(() => {
    stateDir = path.join(scratchDir('distributed-state'), 'state')
  })
  afterAll(() => {
    expect(log.leaks()).toEqual([])
  })

  it('three workers load 30 sites into a warehouse identical to one process backfilling them', async () => {
    // 27 sites read deals only, 3 every stream: 72 jobs of at most 2 days.
    const siteIds = Array.from({ length: 30 }, (_, index) => 1901 + index)
    const sites = siteIds.map((id, index) => (index < 27 ? { id, streams: ['deals'] } : { id }))
    const sim = await startSimulator(simulatorOf(siteIds))
    const [distributed, single] = await Promise.all([createTestWarehouse('postgres'), createTestWarehouse('postgres')])
    try {
      const config = configFile(sim, sites)
      const range = ['--from', '2026-11-17', '--to', '2026-11-19']
      const reference = await runE2eCli(log, ['backfill', '--config', config, ...range], {
        ...single.env,
        CALLTOUCH_ETL_STATE_DIR: stateDir,
      })
      expect(reference.exitCode, reference.stderr.slice(-2000)).toBe(0)

      const env = { ...distributed.env, CALLTOUCH_ETL_STATE_DIR: stateDir }
      for (let i = 0; i < 3; i++) startWorker(env, config)
      const result = await runE2eCli(
        log,
        ['backfill', '--distributed', '--chunk-days', '2', '--config', config, ...range],
        env,
      )
      expect(result.exitCode, result.stderr.slice(-2000)).toBe(0)

      const [deals, leads] = result.stdout.trim().split('\n')
      const [referenceDeals, referenceLeads] = reference.stdout.trim().split('\n')
      expect(deals).toMatch(/^backfill: 30 site\(s\), 90 day\(s\), \d+ request\(s\), 0 retries, \d+ record\(s\) seen/)
      expect(countsOf(deals)).toBe(countsOf(referenceDeals))
      expect(leads).toMatch(/^backfill leads: 6 stream\(s\), 18 day\(s\), /)
      expect(countsOf(leads)).toBe(countsOf(referenceLeads))
      expect(await warehouseChecksums(distributed.warehouse.db, ['calltouch', 'raw'])).toEqual(
        await warehouseChecksums(single.warehouse.db, ['calltouch', 'raw']),
      )
      // One run row, the coordinator's, as one process writes it.
      expect(await runRows(distributed)).toEqual([{ command: 'backfill', status: 'succeeded', error: null, days: 90 }])
      const completed = await stopWorkers()
      expect(completed.reduce((sum, jobs) => sum + jobs, 0)).toBe(27 * 2 + 3 * 3 * 2)
      expect(await tokenLeaksInWarehouse(distributed.warehouse.db)).toEqual([])
    } finally {
      await Promise.all([sim.close(), distributed.destroy(), single.destroy()])
    }
  }, 180_000)

  it('a job whose worker is killed with SIGKILL is taken over after its expiry: nothing lost, nothing doubled', async () => {
    const siteIds = [1951, 1952, 1953]
    const sites = siteIds.map((id) => ({ id, streams: ['deals', 'calls'] }))
    // Latency makes a job last long enough to be killed in the middle of it.
    const sim = await startSimulator(simulatorOf(siteIds, { latencyMs: 300 }))
    const [distributed, single] = await Promise.all([createTestWarehouse('postgres'), createTestWarehouse('postgres')])
    try {
      const config = configFile(sim, sites)
      const range = ['--from', '2026-11-14', '--to', '2026-11-19']
      const reference = await runE2eCli(log, ['backfill', '--config', config, ...range], {
        ...single.env,
        CALLTOUCH_ETL_STATE_DIR: stateDir,
      })
      expect(reference.exitCode, reference.stderr.slice(-2000)).toBe(0)

      const env = { ...distributed.env, CALLTOUCH_ETL_STATE_DIR: stateDir }
      const doomed = startWorker(env, config, 1)
      // Ready before the jobs are enqueued, so the doomed worker takes the first one.
      await doomed.waitForStderr((stderr) => stderr.includes('worker ready'))
      const coordinator = spawnCli(
        ['backfill', '--distributed', '--chunk-days', '3', '--job-expiry-seconds', '5', '--config', config, ...range],
        env,
      )
      // Killed once its first job has planned its days and sent its first request.
      await doomed.waitForStderr((stderr) => stderr.includes('day(s) to read'))
      doomed.kill('SIGKILL')
      expect((await doomed.exited).signal).toBe('SIGKILL')
      startWorker(env, config)
      startWorker(env, config)
      const result = await coordinator.exited
      expect(result.exitCode, result.stderr.slice(-2000)).toBe(0)

      const [deals, leads] = result.stdout.trim().split('\n')
      const [referenceDeals, referenceLeads] = reference.stdout.trim().split('\n')
      expect(countsOf(deals).replace(/, \d+ changed/, '')).toBe(countsOf(referenceDeals).replace(/, \d+ changed/, ''))
      expect(countsOf(leads).replace(/, \d+ changed/, '')).toBe(countsOf(referenceLeads).replace(/, \d+ changed/, ''))
      expect(await warehouseChecksums(distributed.warehouse.db, ['calltouch', 'raw'])).toEqual(
        await warehouseChecksums(single.warehouse.db, ['calltouch', 'raw']),
      )
      // The killed worker's job failed by its expiry once, and another worker completed it.
      const jobs = await executeSql<{ state: string; retries: number; jobs: number }>(
        distributed.warehouse.db,
        `select state::text as state, retry_count as retries, count(*)::int as jobs from pgboss.job group by 1, 2 order by 1, 2`,
      )
      expect(jobs).toEqual([
        { state: 'completed', retries: 0, jobs: 11 },
        { state: 'completed', retries: 1, jobs: 1 },
      ])
      expect(await runRows(distributed)).toEqual([{ command: 'backfill', status: 'succeeded', error: null, days: 18 }])
    } finally {
      await Promise.all([sim.close(), distributed.destroy(), single.destroy()])
    }
  }, 180_000)

  it('a job failing every time ends failed with its reason, the other jobs finish, and the run exits 1', async () => {
    const siteIds = [1961, 1962, 1963, 1964]
    const sim = await startSimulator(simulatorOf(siteIds))
    const tw = await createTestWarehouse('postgres')
    try {
      const config = configFile(
        sim,
        siteIds.map((id) => ({ id, streams: ['deals'] })),
      )
      // The worker's configuration lacks site 1964: each attempt at its job fails.
      const workerConfig = configFile(
        sim,
        siteIds.slice(0, 3).map((id) => ({ id, streams: ['deals'] })),
        'worker.json',
      )
      const env = { ...tw.env, CALLTOUCH_ETL_STATE_DIR: stateDir }
      startWorker(env, workerConfig)
      const result = await runE2eCli(
        log,
        [
          'backfill',
          '--distributed',
          '--job-retries',
          '1',
          '--config',
          config,
          '--from',
          '2026-11-18',
          '--to',
          '2026-11-19',
        ],
        env,
      )
      expect(result.exitCode, result.stderr.slice(-2000)).toBe(1)
      const reason =
        "job failed: site 1964 is not in this worker's configuration (sites: 1961, 1962, 1963): give every worker the coordinator's config file (2 attempt(s))"
      const lines = result.stdout.trim().split('\n')
      expect(lines).toHaveLength(2)
      expect(lines[0]).toMatch(
        /^backfill: 4 site\(s\), 8 day\(s\) \(2 failed\), \d+ request\(s\), 0 retries, \d+ record\(s\) seen/,
      )
      expect(lines[1]).toBe(`failed: site 1964 2026-11-18..2026-11-19: ${reason}`)
      expect(await runRows(tw)).toEqual([
        {
          command: 'backfill',
          status: 'partial',
          error: `1 window(s) failed; first: site 1964 2026-11-18..2026-11-19: ${reason}`,
          days: 8,
        },
      ])
      // The other sites' days are loaded; the failed job's days are failed in the ledger with its reason.
      const ledger = await executeSql<{ account: string; status: string; days: number; error: string | null }>(
        tw.warehouse.db,
        `select account, status, count(*)::int as days, max(error) as error from etl.ledger
         where source = 'calltouch-deals' group by 1, 2 order by 1, 2`,
      )
      expect(ledger).toEqual([
        { account: '1961', status: 'ok', days: 2, error: null },
        { account: '1962', status: 'ok', days: 2, error: null },
        { account: '1963', status: 'ok', days: 2, error: null },
        { account: '1964', status: 'failed', days: 2, error: reason },
      ])
      // status lists the failed job, its key and its reason.
      const status = await runE2eCli(log, ['status', '--config', config], env)
      expect(status.stdout).toContain('jobs: 0 queued, 0 running, 1 failed')
      expect(status.stdout).toMatch(
        new RegExp(
          `  failed: \\d+:deals:1964:2026-11-18\\.\\.2026-11-19: site 1964 is not in this worker's configuration`,
        ),
      )
    } finally {
      await Promise.all([sim.close(), tw.destroy()])
    }
  }, 120_000)

  it('refuses --distributed and worker on the embedded warehouse in one line, exit 2', async () => {
    const dataDir = path.join(scratchDir('distributed-embedded'), 'warehouse')
    const env = { CALLTOUCH_ETL_DATA_DIR: dataDir, CALLTOUCH_SITE_ID: '1971', CALLTOUCH_API_TOKEN: E2E_TOKEN }
    const sync = await runE2eCli(log, ['sync', '--distributed'], env)
    expect(sync.exitCode).toBe(2)
    expect(sync.stderr.trim()).toBe(
      "error: sync --distributed needs a PostgreSQL warehouse (DATABASE_URL): the embedded warehouse is one process's alone; run without --distributed, or set DATABASE_URL",
    )
    const worker = await runE2eCli(log, ['worker'], env)
    expect(worker.exitCode).toBe(2)
    expect(worker.stderr.trim().split('\n')).toHaveLength(1)
  })
})

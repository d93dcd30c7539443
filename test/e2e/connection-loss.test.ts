import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { warehouseChecksums, type TableChecksum } from '../helpers/e2e-checksum.ts'
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
import { TEST_DATABASE_URL } from '../helpers/postgres-server.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_IDS = [820, 821, 822] as const
const FROM = '2026-08-23'
const TO = '2026-11-20'
/**
 * Three sites × 90 days × ~25 deals, as kill-and-resume reads them: a few windows a
 * site, the larger ones of several pages, so a load lasts long enough to be caught
 * open. The latency leaves the connections idle while pages are awaited, so there is
 * a moment between windows with no statement running.
 */
const SIMULATOR = {
  now: E2E_NOW,
  seed: 14,
  latencyMs: 150,
  sites: SITE_IDS.map((siteId) => ({ siteId, token: E2E_TOKEN, dealsPerDay: 25 })),
}
/** The log line a run writes per site once it holds the lock, has opened its run row and planned the site's days. */
const SITE_PLANNED = /day\(s\) to read/g
/** The log line of a window committed. */
const WINDOW_LOADED = /"msg":"site \d+ \d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}: \d+ deal\(s\), \d+ changed"/
/** What the server says to a backend that pg_terminate_backend ends (as to every backend of a server shutting down). */
const TERMINATED = 'terminating connection due to administrator command'
const CLI_TEST_TIMEOUT_MS = 240_000

/**
 * Which of the test database's client backends to terminate, and when: SQL over
 * `a` (a backend of the database) and `$1` (its name); the kill happens the first
 * time the condition picks a backend.
 */
const BACKENDS = {
  /** Every backend. */
  all: 'true',
  /** Every backend, while a load transaction (one that has written) is open. */
  allWhileLoading: `exists (select 1 from pg_stat_activity t where t.datname = $1 and t.backend_type = 'client backend' and t.backend_xid is not null)`,
  /** Every backend, while none runs a statement or holds a transaction open. */
  allWhileIdle: `not exists (select 1 from pg_stat_activity t where t.datname = $1 and t.backend_type = 'client backend' and t.state <> 'idle')`,
  /** The backend holding the run lock only, while a load transaction is open on another. */
  lockWhileLoading: `a.pid in (select l.pid from pg_locks l where l.locktype = 'advisory' and l.granted)
    and exists (select 1 from pg_stat_activity t where t.datname = $1 and t.backend_type = 'client backend' and t.backend_xid is not null and t.pid <> a.pid)`,
} as const

/** A backend terminated: its state, whether it had a transaction open, whether it held the run lock. */
interface Terminated {
  state: string
  xact: boolean
  lock: boolean
}

describePostgres('a backfill whose warehouse connections are terminated', () => {
  const log = new OutputLog()
  const warehouses: TestWarehouse[] = []
  let sim: RunningSimulator
  let reference: TestWarehouse
  let admin: pg.Client
  let config: string
  let expected: Record<string, TableChecksum>

  const backfill = (): string[] => ['backfill', '--config', config, '--from', FROM, '--to', TO]
  const databaseOf = (tw: TestWarehouse): string => new URL(tw.env.DATABASE_URL as string).pathname.slice(1)

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
    ;[sim, reference] = await Promise.all([startSimulator(SIMULATOR), createTestWarehouse('postgres'), admin.connect()])
    config = writeConfigFile(scratchDir('connection-loss'), {
      baseUrl: sim.url,
      // Deals only: the cases time the kills by the deals' planning and window log lines, and count their days.
      sites: SITE_IDS.map((id) => ({ id, tokenEnv: 'CT_TOKEN', streams: ['deals'] })),
    })
    const clean = await runE2eCli(log, backfill(), reference.env)
    expect(clean.exitCode).toBe(0)
    expected = await warehouseChecksums(reference.warehouse.db, ['calltouch', 'raw'])
  }, CLI_TEST_TIMEOUT_MS)
  afterAll(async () => {
    await Promise.all([sim?.close(), reference?.destroy(), admin?.end(), ...warehouses.map((tw) => tw.destroy())])
  })

  /**
   * Starts a backfill, waits until its stderr satisfies `ready`, then terminates
   * `backends` of its database the first time the condition holds (polling),
   * and returns how the run ended and the states of the backends terminated.
   */
  const backfillTerminated = async (ready: (stderr: string) => boolean, backends: string) => {
    const tw = await createTestWarehouse('postgres')
    warehouses.push(tw)
    // Closed meanwhile, so the backends of the database are the run's alone.
    await tw.release()
    const run = spawnCli(backfill(), tw.env)
    await run.waitForStderr(ready)
    const terminated = await terminateWhen(run, databaseOf(tw), backends)
    const result = log.keep(await run.exited)
    await tw.reopen()
    return { tw, terminated, result }
  }

  /** Polls until `backends` picks some backend of `database`, terminating those in the same statement. */
  const terminateWhen = async (run: SpawnedCli, database: string, backends: string): Promise<Terminated[]> => {
    let ended = false
    void run.exited.then(() => (ended = true))
    while (!ended) {
      const { rows } = await admin.query<Terminated & { done: boolean }>(
        `
        select a.state, a.xact_start is not null as xact,
          exists (select 1 from pg_locks l where l.pid = a.pid and l.locktype = 'advisory' and l.granted) as lock,
          pg_terminate_backend(a.pid) as done
        from pg_stat_activity a
        where a.datname = $1 and a.backend_type = 'client backend' and a.pid <> pg_backend_pid() and (${backends})`,
        [database],
      )
      if (rows.length > 0) return rows.map(({ state, xact, lock }) => ({ state, xact, lock }))
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    throw new Error(`the run ended before the backends were terminated: ${run.stderr().slice(-2000)}`)
  }

  /**
   * The run ended with exit 1 and one line (besides the JSON log lines) naming
   * the warehouse and the cause, no stack; its row in etl.runs is closed as
   * failed with that line; the next backfill completes and leaves the warehouse
   * equal to the clean run's.
   */
  const expectStoppedThenCompleted = async (
    tw: TestWarehouse,
    result: { exitCode: number; stdout: string; stderr: string },
  ): Promise<void> => {
    const lines = result.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'))
    expect(result.stderr).not.toContain("Unhandled 'error' event")
    expect(lines, result.stderr.slice(-3000)).toHaveLength(1)
    const line = lines[0] as string
    expect(line).toMatch(
      new RegExp(
        `^error: lost the connection to PostgreSQL 127\\.0\\.0\\.1:5432/${databaseOf(tw)}: ${TERMINATED} — the command stopped; run it again once the server answers \\(what it committed is kept\\)$`,
      ),
    )
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toBe('')
    const runs = await executeSql<{ command: string; status: string; error: string | null }>(
      tw.warehouse.db,
      'select command, status, error from etl.runs order by run_id',
    )
    expect(runs).toEqual([{ command: 'backfill', status: 'failed', error: line.slice('error: '.length) }])

    const next = await runE2eCli(log, backfill(), tw.env)
    expect(next.exitCode, next.stderr.slice(-2000)).toBe(0)
    expect(await warehouseChecksums(tw.warehouse.db, ['calltouch', 'raw'])).toEqual(expected)
    const ledger = await executeSql<{ status: string; days: number }>(
      tw.warehouse.db,
      'select status, count(*)::integer as days from etl.site_days group by status',
    )
    expect(ledger).toEqual([{ status: 'ok', days: SITE_IDS.length * 90 }])
    const after = await executeSql<{ status: string }>(tw.warehouse.db, 'select status from etl.runs order by run_id')
    expect(after).toEqual([{ status: 'failed' }, { status: 'succeeded' }])
  }

  /** Every site's days are planned: the first pages are awaited, no statement runs. */
  const allPlanned = (stderr: string): boolean => (stderr.match(SITE_PLANNED)?.length ?? 0) === SITE_IDS.length
  const lockHolders = (terminated: Terminated[]): Terminated[] => terminated.filter((backend) => backend.lock)

  it(
    'stops with one line and exit 1 when its connections end right after it planned, before any window loaded',
    async () => {
      const { tw, terminated, result } = await backfillTerminated(allPlanned, BACKENDS.all)
      expect(lockHolders(terminated)).toEqual([{ state: 'idle', xact: false, lock: true }])
      expect(terminated.filter((backend) => backend.state !== 'idle' || backend.xact)).toEqual([])
      // It stopped without recording a day: the windows cut short wrote no failure on a lost warehouse.
      const [loaded] = await executeSql<{ days: number }>(
        tw.warehouse.db,
        'select count(*)::integer as days from etl.site_days',
      )
      expect(loaded).toEqual({ days: 0 })
      await expectStoppedThenCompleted(tw, result)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'stops with one line and exit 1 when its connections end while a window loads',
    async () => {
      const { tw, terminated, result } = await backfillTerminated(allPlanned, BACKENDS.allWhileLoading)
      expect(lockHolders(terminated)).toEqual([{ state: 'idle', xact: false, lock: true }])
      expect(terminated.filter((backend) => backend.xact).length).toBeGreaterThanOrEqual(1)
      await expectStoppedThenCompleted(tw, result)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'stops with one line and exit 1 when its connections end between windows, all of them idle',
    async () => {
      const { tw, terminated, result } = await backfillTerminated(
        (stderr) => WINDOW_LOADED.test(stderr),
        BACKENDS.allWhileIdle,
      )
      expect(lockHolders(terminated)).toEqual([{ state: 'idle', xact: false, lock: true }])
      // At least one idle pool connection besides the lock's, none in a transaction.
      expect(terminated.length).toBeGreaterThanOrEqual(2)
      expect(terminated.filter((backend) => backend.state !== 'idle' || backend.xact)).toEqual([])
      await expectStoppedThenCompleted(tw, result)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    "stops with one line and exit 1, writing on no further, when only the run lock's connection ends while a window loads",
    async () => {
      const { tw, terminated, result } = await backfillTerminated(allPlanned, BACKENDS.lockWhileLoading)
      expect(terminated).toEqual([{ state: 'idle', xact: false, lock: true }])
      await expectStoppedThenCompleted(tw, result)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it('never lets the token into an output or a table', async () => {
    expect(log.leaks()).toEqual([])
    for (const tw of [reference, ...warehouses]) expect(await tokenLeaksInWarehouse(tw.warehouse.db)).toEqual([])
  })
})

import { spawn, type ChildProcess } from 'node:child_process'
import { DateTime } from 'luxon'
import { afterEach, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { CLI_PATH, REPO_ROOT, runCli } from '../helpers/cli.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_ID = 4242
const TOKEN = 'schedule-test-token-secret'

interface RunRow {
  run_id: string
  command: string
  status: string
  error: string | null
  started_at: Date
  finished_at: Date | null
}

describePostgres('calltouch-etl schedule, and the run lock between processes', () => {
  let tw: TestWarehouse | undefined
  let simulator: RunningSimulator | undefined
  let child: ChildProcess | undefined
  afterEach(async () => {
    child?.kill('SIGKILL')
    await simulator?.close()
    await tw?.destroy()
    child = undefined
    simulator = undefined
    tw = undefined
  })

  /** A warehouse and a simulated site with a few deals on each of the last days, `latencyMs` per request. */
  async function setUp(latencyMs: number): Promise<Record<string, string>> {
    tw = await createTestWarehouse('postgres')
    const today = DateTime.now().setZone('Europe/Moscow')
    simulator = await startSimulator({
      now: today.toISO() as string,
      latencyMs,
      sites: [
        {
          siteId: SITE_ID,
          token: TOKEN,
          dealsPerDay: 5,
          historyStart: today.minus({ days: 30 }).toISODate() as string,
        },
      ],
    })
    return {
      ...tw.env,
      CALLTOUCH_SITE_ID: String(SITE_ID),
      CALLTOUCH_API_TOKEN: TOKEN,
      CALLTOUCH_BASE_URL: simulator.url,
      CALLTOUCH_START_DATE: today.minus({ days: 4 }).toISODate() as string,
    }
  }

  function startSchedule(env: Record<string, string>): { exited: Promise<number | null>; stderr: () => string } {
    let stderr = ''
    child = spawn(process.execPath, [CLI_PATH, 'schedule', '--cron', '* * * * * *'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CALLTOUCH_ETL_LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)))
    return { exited, stderr: () => stderr }
  }

  async function runs(): Promise<RunRow[]> {
    return executeSql<RunRow>(
      tw!.warehouse.db,
      'select run_id::text, command, status, error, started_at, finished_at from etl.runs order by run_id',
    )
  }

  async function waitFor(what: string, condition: (rows: RunRow[]) => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!condition(await runs())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await runs())}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  it('runs sync then transform on a per-second schedule, twice without overlap, skipping the ticks in between, and exits 0 on SIGTERM', async () => {
    // Each answer takes 1.1 s, so every run outlasts the 1-second tick and a tick falls inside
    // it; with instant answers a run can finish within a second and no tick is skipped.
    const env = await setUp(1_100)
    const schedule = startSchedule(env)
    await waitFor(
      'two finished scheduled runs',
      (rows) => rows.filter((row) => row.command === 'schedule' && row.finished_at !== null).length >= 2,
    )
    child?.kill('SIGTERM')
    expect(await schedule.exited).toBe(0)

    const rows = await runs()
    expect(rows.filter((row) => row.status === 'running')).toEqual([])
    const scheduled = rows.filter((row) => row.command === 'schedule')
    expect(scheduled.slice(0, 2).map((row) => [row.status, row.error])).toEqual([
      ['succeeded', null],
      ['succeeded', null],
    ])
    for (let i = 1; i < scheduled.length; i++) {
      expect((scheduled[i] as RunRow).started_at.getTime()).toBeGreaterThanOrEqual(
        ((scheduled[i - 1] as RunRow).finished_at as Date).getTime(),
      )
    }
    // Each sync and transform ran inside one scheduled run, in that order.
    const [first, second] = scheduled as [RunRow, RunRow]
    const inside = (run: RunRow) =>
      rows
        .filter(
          (row) =>
            row.command !== 'schedule' &&
            row.started_at >= run.started_at &&
            (row.finished_at as Date) <= (run.finished_at as Date),
        )
        .map((row) => `${row.command} ${row.status}`)
    expect(inside(first)).toEqual(['sync succeeded', 'transform succeeded'])
    expect(inside(second)).toEqual(['sync succeeded', 'transform succeeded'])
    const lines = schedule
      .stderr()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string })
    expect(lines.some((line) => /^tick \d+ skipped: the previous run is still going$/.test(line.msg))).toBe(true)
    expect(lines.at(-1)?.msg).toBe('stopped')
    expect(schedule.stderr()).not.toContain(TOKEN)
  })

  it('stops promptly on SIGTERM in the middle of a sync, with exit code 0, the run recorded as interrupted and the ledger consistent', async () => {
    const env = await setUp(4_000)
    const schedule = startSchedule(env)
    await waitFor('a sync in flight', (rows) => rows.some((row) => row.command === 'sync' && row.status === 'running'))
    await new Promise((resolve) => setTimeout(resolve, 500))
    const signalledAt = Date.now()
    child?.kill('SIGTERM')
    expect(await schedule.exited).toBe(0)
    expect(Date.now() - signalledAt).toBeLessThan(5_000)

    const rows = await runs()
    expect(rows.map((row) => [row.command, row.status])).toEqual([
      ['schedule', 'failed'],
      ['sync', 'failed'],
    ])
    expect(rows[0]?.error).toBe('interrupted during sync: stopped by SIGTERM')
    expect(rows[1]?.error).toMatch(/^interrupted after \d+ window\(s\): stopped by SIGTERM$/)
    // No day is left half-read: every ledger row belongs to a run that has finished.
    const orphans = await executeSql(
      tw!.warehouse.db,
      'select d.day from etl.site_days d left join etl.runs r on r.run_id = d.run_id where r.finished_at is null',
    )
    expect(orphans).toEqual([])
  })

  it('lets one of two sync processes started together work; the other exits 3 with the lock message', async () => {
    const env = await setUp(1_500)
    const results = await Promise.all([runCli(['sync'], env), runCli(['sync'], env)])
    expect(results.map((result) => result.exitCode).sort()).toEqual([0, 3])
    const refused = results.find((result) => result.exitCode === 3)
    expect(refused?.stderr).toMatch(
      /^error: another calltouch-etl run is working on the PostgreSQL 127\.0\.0\.1:5432\/ct_test_\w+; this one did nothing — try again when it has finished\n$/,
    )
    expect(refused?.stdout).toBe('')
    expect((await runs()).map((row) => [row.command, row.status])).toEqual([['sync', 'succeeded']])
  })
})

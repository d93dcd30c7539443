import { DateTime } from 'luxon'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runNightlyTick } from '../../pipelines/cli/commands/schedule.ts'
import { createContext, type CliContext } from '../../pipelines/cli/context.ts'
import { executeSql, openWarehouse } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { TextSink } from '../helpers/run-main.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_ID = 5151
const TOKEN = 'schedule-tick-token-secret'

describeEachEngine('a scheduled run', (engine) => {
  let tw: TestWarehouse
  let simulator: RunningSimulator
  beforeAll(async () => {
    const today = DateTime.now().setZone('Europe/Moscow')
    ;[tw, simulator] = await Promise.all([
      createTestWarehouse(engine),
      startSimulator({
        now: today.toISO() as string,
        sites: [
          {
            siteId: SITE_ID,
            token: TOKEN,
            dealsPerDay: 5,
            historyStart: today.minus({ days: 30 }).toISODate() as string,
          },
        ],
      }),
    ])
  })
  afterAll(async () => {
    await simulator?.close()
    await tw?.destroy()
  })

  it('opens the warehouse once per tick for its schedule, sync and transform rows', async () => {
    const env = {
      ...tw.env,
      CALLTOUCH_SITE_ID: String(SITE_ID),
      CALLTOUCH_API_TOKEN: TOKEN,
      CALLTOUCH_BASE_URL: simulator.url,
      CALLTOUCH_START_DATE: DateTime.now().setZone('Europe/Moscow').minus({ days: 3 }).toISODate() as string,
    }
    let opens = 0
    const ctx: CliContext = {
      ...createContext(
        { logFormat: 'json', logLevel: 'silent' },
        { env, cwd: process.cwd(), stdout: new TextSink(), stderr: new TextSink() },
      ),
      openWarehouse: (config) => {
        opens += 1
        return openWarehouse(config)
      },
    }
    // The embedded warehouse is one opener's at a time.
    await tw.release()
    const tick = (n: number) =>
      runNightlyTick(ctx, {
        signal: new AbortController().signal,
        tick: n,
        cron: '0 3 * * *',
        timeZone: 'Europe/Moscow',
        configFile: undefined,
      })
    const first = await tick(1)
    const opensAfterFirst = opens
    const second = await tick(2)
    await tw.reopen()

    expect([opensAfterFirst, opens]).toEqual([1, 2])
    expect([first.status, first.sync.ok, first.transform.ok, second.status]).toEqual([
      'succeeded',
      true,
      true,
      'succeeded',
    ])
    const runs = await executeSql<{
      run_id: string
      command: string
      status: string
      arguments: Record<string, unknown>
    }>(tw.warehouse.db, 'select run_id::text, command, status, arguments from etl.runs order by run_id')
    expect(runs.map((run) => `${run.command} ${run.status}`)).toEqual([
      'schedule succeeded',
      'sync succeeded',
      'transform succeeded',
      'schedule succeeded',
      'sync succeeded',
      'transform succeeded',
    ])
    expect(runs.map((run) => run.run_id)).toEqual([
      first.scheduleRunId,
      first.sync.runId,
      first.transform.runId,
      second.scheduleRunId,
      second.sync.runId,
      second.transform.runId,
    ])
    expect(runs[3]?.arguments).toEqual({ tick: 2, cron: '0 3 * * *', timeZone: 'Europe/Moscow' })
  })
})

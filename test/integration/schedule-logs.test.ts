import { DateTime } from 'luxon'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { runCli } from '../helpers/cli.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const TOKEN = 'log-test-token-secret'

describePostgres('the log lines of a sync', () => {
  let tw: TestWarehouse
  let simulator: RunningSimulator
  beforeAll(async () => {
    tw = await createTestWarehouse('postgres')
    const today = DateTime.now().setZone('Europe/Moscow')
    simulator = await startSimulator({
      now: today.toISO() as string,
      sites: [
        { siteId: 777, token: TOKEN, dealsPerDay: 5, historyStart: today.minus({ days: 30 }).toISODate() as string },
      ],
    })
  })
  afterAll(async () => {
    await simulator?.close()
    await tw?.destroy()
  })

  it('are JSON with --log-format json, each with the run id, window lines with the site and window, and never the token', async () => {
    const today = DateTime.now().setZone('Europe/Moscow')
    const result = await runCli(['sync', '--log-format', 'json'], {
      ...tw.env,
      CALLTOUCH_ETL_LOG_FORMAT: 'pretty',
      CALLTOUCH_SITE_ID: '777',
      CALLTOUCH_API_TOKEN: TOKEN,
      CALLTOUCH_BASE_URL: simulator.url,
      CALLTOUCH_START_DATE: today.minus({ days: 3 }).toISODate() as string,
    })
    expect(result.exitCode).toBe(0)
    const lines = result.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(lines.length).toBeGreaterThan(1)
    for (const line of lines)
      expect(line).toMatchObject({
        runId: '1',
        level: expect.stringMatching(/^(trace|debug|info|warn|error|fatal)$/),
        time: expect.any(String),
        msg: expect.any(String),
      })
    const windowLines = lines.filter((line) => 'firstDay' in line)
    expect(windowLines.length).toBeGreaterThan(0)
    for (const line of windowLines)
      expect(line).toMatchObject({
        siteId: 777,
        firstDay: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
        lastDay: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      })
    expect(result.stderr).not.toContain(TOKEN)
    expect(result.stdout).not.toContain(TOKEN)
  })
})

import { DateTime } from 'luxon'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { runMain } from '../helpers/run-main.ts'
import { createTestWarehouse, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_ID = 5150
const TOKEN = 'json/SECRET+token.5150'

/** stdout of a --json run: exactly one line, one JSON object. */
function onlyObject(stdout: string): Record<string, unknown> {
  expect(stdout.endsWith('\n')).toBe(true)
  expect(stdout.trimEnd().split('\n')).toHaveLength(1)
  return JSON.parse(stdout) as Record<string, unknown>
}

describe('--json summaries of sync, backfill and transform (pglite)', () => {
  let sim: RunningSimulator
  let tw: TestWarehouse
  let env: Record<string, string>
  const today = DateTime.now().setZone('Europe/Moscow')

  beforeAll(async () => {
    sim = await startSimulator({
      now: new Date().toISOString(),
      seed: 5,
      sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay: 2 }],
    })
    tw = await createTestWarehouse('pglite')
    await tw.release()
    env = {
      ...tw.env,
      CALLTOUCH_BASE_URL: sim.url,
      CALLTOUCH_SITE_ID: String(SITE_ID),
      CALLTOUCH_API_TOKEN: TOKEN,
      CALLTOUCH_START_DATE: today.minus({ days: 2 }).toISODate() as string,
    }
  })
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  it('sync --json prints one object with the run, its deal and lead counts and failures, and never the token', async () => {
    const result = await runMain(['sync', '--json'], env)
    expect(result.exitCode).toBe(0)
    const summary = onlyObject(result.stdout)
    const [first, last] = [today.minus({ days: 2 }).toISODate() as string, today.toISODate() as string]
    const leads = sim.expectedCalls(SITE_ID, first, last).length + sim.expectedRequests(SITE_ID, first, last).length
    expect(summary).toEqual({
      command: 'sync',
      runId: expect.stringMatching(/^\d+$/),
      ok: true,
      interrupted: false,
      durationMs: expect.any(Number),
      deals: expect.objectContaining({ sites: 1, days: 3, daysFailed: 0, failures: [], rejected: 0 }),
      // Calls and requests of the same 3 days: the calls in one window, the requests one day per request.
      leads: {
        streams: 2,
        days: 6,
        daysFailed: 0,
        reads: 4,
        readsFailed: 0,
        requests: 4,
        retries: 0,
        seen: leads,
        landed: leads,
        changed: leads,
        rejected: 0,
        removed: 0,
        failures: [],
      },
      spend: null,
    })
    expect(result.stdout + result.stderr).not.toContain(TOKEN)
  })

  it('backfill --json names itself and reads exactly its days', async () => {
    const day = today.minus({ days: 1 }).toISODate() as string
    const result = await runMain(['backfill', '--from', day, '--to', day, '--json'], env)
    expect(result.exitCode).toBe(0)
    expect(onlyObject(result.stdout)).toMatchObject({ command: 'backfill', ok: true, deals: { sites: 1, days: 1 } })
  })

  it('a failing sync --json still prints its one object, with the failures, and exits 1', async () => {
    const result = await runMain(['sync', '--json'], { ...env, CALLTOUCH_API_TOKEN: 'wrong-token' })
    expect(result.exitCode).toBe(1)
    const summary = onlyObject(result.stdout)
    expect(summary).toMatchObject({ ok: false })
    expect((summary.deals as { failures: unknown[] }).failures.length).toBeGreaterThan(0)
    expect(result.stdout).not.toContain('wrong-token')
  })

  it('transform --json prints one object with every model and test', async () => {
    const result = await runMain(['transform', '--json'], env)
    expect(result.exitCode).toBe(0)
    const summary = onlyObject(result.stdout)
    expect(summary).toMatchObject({ command: 'transform', ok: true, testsFailed: 0, runId: expect.any(String) })
    const models = summary.models as { relation: string; status: string }[]
    expect(models.map((model) => model.relation)).toContain('analytics.fct_marketing_daily')
    expect(models.every((model) => model.status === 'built')).toBe(true)
  })
})

import { PassThrough } from 'node:stream'
import { afterEach, expect, it, vi } from 'vitest'
import { startNightlyScheduler } from '../../pipelines/cli/nightly-scheduler.ts'
import { createLogger } from '../../pipelines/core/logger.ts'

afterEach(() => {
  vi.restoreAllMocks()
})

it('logs a tick that came late as a JSON warning, and node-cron prints nothing of its own', async () => {
  const lines: string[] = []
  const destination = new PassThrough()
  destination.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').trim().split('\n')))
  // node-cron's own warning goes to the console; nothing may reach it.
  const consoleLines: unknown[][] = []
  for (const method of ['warn', 'log', 'error', 'info'] as const)
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleLines.push(args))
  const scheduler = startNightlyScheduler({
    cron: '* * * * * *',
    timeZone: 'Europe/Moscow',
    logger: createLogger({ format: 'json', level: 'info', destination }),
    // A run that holds the event loop for 2.5 s: the ticks meanwhile come late.
    run: () => {
      const until = Date.now() + 2_500
      while (Date.now() < until) {
        // busy, as a long synchronous step would be
      }
      return Promise.resolve()
    },
  })
  await new Promise((resolve) => setTimeout(resolve, 4_500))
  await scheduler.stop('test over')
  const messages = lines.map((line) => (JSON.parse(line) as { level: string; msg: string }).msg)
  expect(
    messages.filter((message) => message === 'a tick came late: the process was busy at its time').length,
  ).toBeGreaterThan(0)
  expect(consoleLines).toEqual([])
})

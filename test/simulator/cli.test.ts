import { PassThrough } from 'node:stream'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { parseSitesOption, registerSimulatorCommand } from '../../simulator/cli.ts'
import type { RunningSimulator } from '../../simulator/index.ts'

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
  return { stream, text: () => text }
}

describe('the simulator command', () => {
  it('documents every switch in --help', () => {
    const program = new Command('calltouch-etl').exitOverride()
    let help = ''
    const command = registerSimulatorCommand(program)
    command.configureOutput({ writeOut: (text) => (help += text) })
    expect(() => program.parse(['node', 'calltouch-etl', 'simulator', '--help'])).toThrow()
    for (const flag of [
      '--port',
      '--seed',
      '--sites',
      '--now',
      '--time-zone',
      '--no-rate-limit',
      '--retry-after',
      '--date-to-exclusive',
      '--accept-equal-dates',
      '--empty-page-total',
      '--latency-ms',
      '--jitter-ms',
      '--failure-rate',
      '--burst-429-rate',
      '--burst-429-length',
      '--truncate-rate',
      '--reset-rate',
      '--slow-rate',
      '--slow-ms',
      '--shift-pages',
    ]) {
      expect(help).toContain(flag)
    }
  })

  it('reads sites as siteId:token:dealsPerDay entries', () => {
    expect(parseSitesOption('12345:token:30,222:tok2:5:2026-01-01')).toEqual([
      { siteId: 12345, token: 'token', dealsPerDay: 30 },
      { siteId: 222, token: 'tok2', dealsPerDay: 5, historyStart: '2026-01-01' },
    ])
    expect(() => parseSitesOption('abc')).toThrow(/siteId:token/)
  })

  it('runs with the given switches, prints how to point the pipeline at it, and stops when told', async () => {
    const out = capture()
    const stop = new AbortController()
    let simulator: RunningSimulator | undefined
    const program = new Command('calltouch-etl').exitOverride()
    registerSimulatorCommand(program, {
      stdout: out.stream,
      signal: stop.signal,
      onStarted: (sim) => {
        simulator = sim
      },
    })
    const running = program.parseAsync([
      'node',
      'calltouch-etl',
      'simulator',
      '--port',
      '0',
      '--sites',
      '777:secret:5',
      '--no-rate-limit',
      '--empty-page-total',
      '1',
      '--failure-rate',
      '1',
    ])
    await expect.poll(() => simulator).toBeDefined()
    const sim = simulator as RunningSimulator
    const res = await fetch(`${sim.url}/calls-service/RestAPI/777/getnodeid/`)
    expect([500, 502, 503]).toContain(res.status)
    await expect
      .poll(() => out.text())
      .toContain(`CALLTOUCH_BASE_URL=${sim.url} CALLTOUCH_SITE_ID=777 CALLTOUCH_API_TOKEN=secret`)
    stop.abort()
    await running
    expect(out.text()).toContain('stopped')
    await expect(fetch(`${sim.url}/_sim/stats`)).rejects.toThrow()
  })
})

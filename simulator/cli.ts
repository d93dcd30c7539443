/**
 * `calltouch-etl simulator`: runs the simulator until SIGINT or SIGTERM.
 * The main CLI declares the command without loading this file and, only when
 * the command runs, gives it its switches with {@link configureSimulatorCommand}.
 */
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { InvalidArgumentError, Option } from 'commander'
import { startSimulator, type RunningSimulator } from './start-simulator.ts'
import {
  DEFAULT_NOW,
  DEFAULT_SEED,
  DEFAULT_TIME_ZONE,
  type FaultConfig,
  type SimulatedSiteConfig,
  type SimulatorOptions,
} from './simulator-options.ts'

/** The port the command listens on unless told otherwise. */
export const DEFAULT_CLI_PORT = 8787

/** Where the command writes and what stops it (tests pass their own). */
export interface SimulatorCommandIo {
  stdout?: NodeJS.WritableStream
  /** Stops the simulator when aborted, in addition to SIGINT and SIGTERM. */
  signal?: AbortSignal
  /** Called once the simulator listens (tests use it to reach the instance). */
  onStarted?: (simulator: RunningSimulator) => void
}

/**
 * Parses `--sites`: either `siteId:token[:dealsPerDay[:historyStart]]` entries
 * separated by commas, or the path of a JSON file holding an array of
 * `{ siteId, token, dealsPerDay?, historyStart? }`.
 *
 * @example parseSitesOption('12345:token:30,222:tok2:5')
 */
export function parseSitesOption(value: string): SimulatedSiteConfig[] {
  if (value.trim().endsWith('.json')) {
    const parsed: unknown = JSON.parse(readFileSync(value.trim(), 'utf8'))
    if (!Array.isArray(parsed)) throw new InvalidArgumentError(`${value} must hold a JSON array of sites`)
    return parsed as SimulatedSiteConfig[]
  }
  return value.split(',').map((entry) => {
    const [siteText, token, volumeText, historyStart] = entry.trim().split(':')
    const siteId = Number(siteText)
    if (!Number.isInteger(siteId) || siteId <= 0 || !token) {
      throw new InvalidArgumentError(`expected siteId:token[:dealsPerDay[:YYYY-MM-DD]], got ${JSON.stringify(entry)}`)
    }
    const site: SimulatedSiteConfig = { siteId, token }
    if (volumeText !== undefined && volumeText !== '') {
      const dealsPerDay = Number(volumeText)
      if (!Number.isFinite(dealsPerDay) || dealsPerDay < 0)
        throw new InvalidArgumentError(`dealsPerDay must be a number, got ${JSON.stringify(volumeText)}`)
      site.dealsPerDay = dealsPerDay
    }
    if (historyStart !== undefined) site.historyStart = historyStart
    return site
  })
}

function integer(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer')
  return n
}

function share(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number between 0 and 1')
  return n
}

interface CliOptions {
  port: number
  seed: number
  sites?: SimulatedSiteConfig[]
  now: string
  timeZone: string
  rateLimit: boolean
  retryAfter?: boolean
  ratePerSecond?: number
  rateQueue?: number
  dateToExclusive?: boolean
  acceptEqualDates?: boolean
  emptyPageTotal: '0' | '1'
  latencyMs?: number
  jitterMs?: number
  failureRate?: number
  burst429Rate?: number
  burst429Length?: number
  truncateRate?: number
  resetRate?: number
  slowRate?: number
  slowMs?: number
  shiftPages?: number
}

/** Turns the command's options into {@link SimulatorOptions}. */
export function simulatorOptionsFromCli(cli: CliOptions): SimulatorOptions {
  const faults: FaultConfig = {
    failureRate: cli.failureRate,
    truncateRate: cli.truncateRate,
    resetRate: cli.resetRate,
    slowRate: cli.slowRate,
    slowMs: cli.slowMs,
    shiftPages: cli.shiftPages,
  }
  if (cli.burst429Rate !== undefined) faults.burst429 = { rate: cli.burst429Rate, length: cli.burst429Length }
  return {
    port: cli.port,
    seed: cli.seed,
    sites: cli.sites,
    now: cli.now,
    timeZone: cli.timeZone,
    // Only the limits given on the command line override the vendor's 5 + 5.
    rateLimit: cli.rateLimit
      ? {
          retryAfter: cli.retryAfter === true,
          ...(cli.ratePerSecond === undefined ? {} : { perSecond: cli.ratePerSecond }),
          ...(cli.rateQueue === undefined ? {} : { queue: cli.rateQueue }),
        }
      : false,
    dateToInclusive: cli.dateToExclusive !== true,
    acceptEqualDates: cli.acceptEqualDates === true,
    emptyPageTotal: cli.emptyPageTotal === '1' ? 1 : 0,
    latencyMs: cli.latencyMs,
    latencyJitterMs: cli.jitterMs,
    faults,
  }
}

/**
 * Adds the `simulator` command to a commander program.
 *
 * @example
 * const program = new Command('calltouch-etl')
 * registerSimulatorCommand(program)
 * await program.parseAsync(['node', 'calltouch-etl', 'simulator', '--port', '8787'])
 */
export function registerSimulatorCommand(program: Command, io: SimulatorCommandIo = {}): Command {
  return configureSimulatorCommand(program.command('simulator'), io)
}

/** Gives a declared `simulator` command its description, switches and action. */
export function configureSimulatorCommand(command: Command, io: SimulatorCommandIo = {}): Command {
  return command
    .description(
      'run a local Calltouch API simulator (deals export, node discovery, deal writes, the 5/s rate limit, errors and faults) until Ctrl+C.\n' +
        'Data is deterministic: the same --seed and --now serve the same bytes. Admin calls: GET /_sim/stats, GET|POST /_sim/clock, GET|POST /_sim/faults, POST /_sim/reset.',
    )
    .addOption(
      new Option('--port <n>', 'TCP port on 127.0.0.1 (0 picks a free one)')
        .argParser(integer)
        .default(DEFAULT_CLI_PORT),
    )
    .addOption(
      new Option('--seed <n>', 'seed of all generated deals and faults').argParser(integer).default(DEFAULT_SEED),
    )
    .addOption(
      new Option(
        '--sites <spec>',
        'sites as siteId:token[:dealsPerDay[:historyStart]] separated by commas (e.g. 12345:token:30,222:tok2:5), or a .json file with an array of {siteId, token, dealsPerDay, historyStart}; default 12345:test-token:30',
      ).argParser(parseSitesOption),
    )
    .addOption(
      new Option('--now <iso>', 'the simulator clock (ISO 8601); it only moves through POST /_sim/clock').default(
        DEFAULT_NOW,
      ),
    )
    .addOption(new Option('--time-zone <zone>', "zone of the sites' local dates").default(DEFAULT_TIME_ZONE))
    .option('--no-rate-limit', 'turn the per-IP rate limit off (default on: 5 a second served, 5 queued, the rest 429)')
    .option('--retry-after', 'send Retry-After: 1 with rate-limit 429 answers (default: no header)')
    .addOption(new Option('--rate-per-second <n>', 'requests served at once in any second, per IP').argParser(integer))
    .addOption(new Option('--rate-queue <n>', 'requests that may wait for the next second, per IP').argParser(integer))
    .option('--date-to-exclusive', 'treat dateTo as exclusive (default inclusive)')
    .option('--accept-equal-dates', 'accept dateFrom == dateTo as one day (default: 400, as the vendor page says)')
    .addOption(
      new Option('--empty-page-total <n>', 'pageTotal of an empty paginated result').choices(['0', '1']).default('0'),
    )
    .addOption(new Option('--latency-ms <ms>', 'latency added to every API request').argParser(integer))
    .addOption(new Option('--jitter-ms <ms>', 'extra latency, seeded uniform in [0, ms]').argParser(integer))
    .addOption(new Option('--failure-rate <share>', 'share of GET requests answered 500, 502 or 503').argParser(share))
    .addOption(
      new Option('--burst-429-rate <share>', 'chance that a GET request starts a burst of 429 answers').argParser(
        share,
      ),
    )
    .addOption(new Option('--burst-429-length <n>', 'answers in each 429 burst (default 5)').argParser(integer))
    .addOption(
      new Option('--truncate-rate <share>', 'share of 200 answers whose body is cut off mid-JSON').argParser(share),
    )
    .addOption(
      new Option('--reset-rate <share>', 'share of GET requests whose connection is reset without an answer').argParser(
        share,
      ),
    )
    .addOption(
      new Option('--slow-rate <share>', 'share of GET requests answered only after --slow-ms').argParser(share),
    )
    .addOption(new Option('--slow-ms <ms>', 'delay of a slow answer (default 30000)').argParser(integer))
    .addOption(
      new Option(
        '--shift-pages <share>',
        'chance of inserting a deal into a paginated window after a page that is not the last (1 = always)',
      ).argParser(share),
    )
    .action(async (cli: CliOptions) => {
      const stdout = io.stdout ?? process.stdout
      const simulator = await startSimulator(simulatorOptionsFromCli(cli))
      io.onStarted?.(simulator)
      const site = cli.sites?.[0] ?? { siteId: 12345, token: 'test-token' }
      stdout.write(
        `Calltouch simulator listening on ${simulator.url} (clock ${simulator.now()}, seed ${cli.seed}).\n` +
          `Point the pipeline at it:\n` +
          `  CALLTOUCH_BASE_URL=${simulator.url} CALLTOUCH_SITE_ID=${site.siteId} CALLTOUCH_API_TOKEN=${site.token} npx calltouch-etl ...\n` +
          `Yandex Direct and VK Ads on the same port (add for their spend):\n` +
          `  YANDEX_DIRECT_BASE_URL=${simulator.url} YANDEX_DIRECT_TOKEN=direct-test-token VK_ADS_BASE_URL=${simulator.url} VK_ADS_CLIENT_ID=vk-test-client VK_ADS_CLIENT_SECRET=vk-test-secret\n` +
          `Stats: curl ${simulator.url}/_sim/stats (Calltouch), /_sim/yandex-direct/stats, /_sim/vk-ads/stats   Stop: Ctrl+C\n`,
      )
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          resolve()
        }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        if (io.signal?.aborted) stop()
        io.signal?.addEventListener('abort', stop, { once: true })
      })
      await simulator.close()
      stdout.write('Calltouch simulator stopped.\n')
    })
}

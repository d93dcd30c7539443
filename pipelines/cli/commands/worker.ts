import path from 'node:path'
import type { Command } from 'commander'
import { EXIT_CODES, messageOf, type ExitCode } from '../../core/errors.ts'
import { contactPolicyFromEnv } from '../../core/pii.ts'
import { createRequestLimiters } from '../../http/request-limiter.ts'
import { openJobQueue } from '../../jobs/distributed-queue.ts'
import { DEFAULT_WORKER_CONCURRENCY, runWorker } from '../../jobs/distributed-worker.ts'
import { runConfigFromEnv } from '../../jobs/run-config.ts'
import { CALLTOUCH_REQUEST_BUDGET, calltouchRequestBudget } from '../../sources/calltouch-deals/api-client.ts'
import { say, usageError, withWarehouse, type Action, type CliContext } from '../context.ts'
import { withEgress } from '../egress-env.ts'
import { CONFIG_OPTION_HELP, DEFAULT_STATE_DIR } from './calltouch-run.ts'
import { requirePostgresForDistributed } from './distributed-sync.ts'

interface WorkerOptions {
  readonly config?: string
  readonly egressAddress?: string
  readonly concurrency?: number
}

export function registerWorkerCommand(program: Command, action: Action): void {
  program
    .command('worker')
    .description(
      'take the jobs of `sync --distributed` from the warehouse (PostgreSQL) and run them until SIGINT/SIGTERM; give it the same configuration as the coordinator',
    )
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option(
      '--egress-address <address>',
      "this machine's IPv4 or IPv6 address the worker's API requests leave from (env CALLTOUCH_ETL_EGRESS_ADDRESS)",
    )
    .option(
      '--concurrency <jobs>',
      `jobs run at once, sharing one Calltouch limit (default ${DEFAULT_WORKER_CONCURRENCY})`,
      (value: string) => {
        const parsed = Number(value)
        if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > 64)
          throw usageError(`--concurrency must be a whole number from 1 to 64, got ${JSON.stringify(value)}`)
        return parsed
      },
    )
    .action(action((ctx: CliContext, command: Command) => runWorkerCommand(ctx, command.opts<WorkerOptions>())))
}

/**
 * Runs a worker until SIGINT or SIGTERM: then it takes no further job, lets the jobs in hand
 * finish for a while and puts the rest back in the queue, and exits 0.
 */
async function runWorkerCommand(ctx: CliContext, options: WorkerOptions): Promise<ExitCode> {
  const connectionString = requirePostgresForDistributed(ctx, 'worker')
  const runConfig = runConfigFromEnv(ctx.env, { configFile: options.config, cwd: ctx.cwd, now: new Date() })
  const calltouch = runConfig.calltouch
  const stateDir = path.resolve(ctx.cwd, ctx.env.CALLTOUCH_ETL_STATE_DIR?.trim() || DEFAULT_STATE_DIR)
  const stop = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => {
    ctx.logger.info({ signal }, `${signal}: taking no further job; the jobs in hand finish or go back to the queue`)
    stop.abort(new Error(signal))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const egressOverride =
    options.egressAddress === undefined
      ? {}
      : { address: { value: options.egressAddress, setting: '--egress-address' } }
  try {
    // Bound to the egress address; Calltouch's limit counted with every process sending from it (Redis), or in-process.
    const result = await withEgress(
      ctx.env,
      async (egress) => {
        const limiters = createRequestLimiters(
          { [CALLTOUCH_REQUEST_BUDGET]: calltouchRequestBudget(calltouch.run.requestsPerSecond) },
          egress.sharedWindows,
        )
        try {
          return await withWarehouse(ctx, async (warehouse) => {
            const boss = await openJobQueue({ connectionString, logger: ctx.logger })
            try {
              ctx.logger.info(
                {
                  sites: calltouch.sites.length,
                  adAccounts: runConfig.adAccounts.length,
                  egressAddress: egress.address,
                },
                `worker ready: ${calltouch.sites.length} site(s), ${runConfig.adAccounts.length} ad account(s)`,
              )
              return await runWorker(
                {
                  warehouse,
                  boss,
                  sites: calltouch.sites,
                  baseUrl: calltouch.baseUrl,
                  settings: calltouch.run,
                  adAccounts: runConfig.adAccounts,
                  adSettings: runConfig.adSettings,
                  stateDir,
                  contacts: contactPolicyFromEnv(ctx.env, stateDir),
                  limiter: limiters.limiterFor(CALLTOUCH_REQUEST_BUDGET),
                  logger: ctx.logger.child({ worker: process.pid }),
                  ...(egress.address === undefined ? {} : { fetch: egress.fetch }),
                  ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
                },
                AbortSignal.any([stop.signal, egress.lost]),
              )
            } finally {
              await boss.stop({ graceful: false, wait: true }).catch((error: unknown) => {
                ctx.logger.warn({ err: messageOf(error) }, 'job queue did not stop cleanly')
              })
            }
          })
        } finally {
          await limiters.stop()
        }
      },
      egressOverride,
    )
    say(ctx, `worker: ${result.completed} job(s) completed, ${result.failed} failed`)
    return EXIT_CODES.ok
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

import cron from 'node-cron'
import type { Logger } from '../core/logger.ts'
import { messageOf } from '../core/errors.ts'

export const DEFAULT_SCHEDULE = '0 3 * * *'

export interface NightlySchedulerConfig {
  /** Cron expression, 5 fields or 6 with seconds (node-cron). */
  readonly cron: string
  /** IANA zone the expression is read in. */
  readonly timeZone: string
  readonly logger: Logger
  /** One run; `signal` aborts when the scheduler is stopped. A throw is logged and the next tick still runs. */
  readonly run: (signal: AbortSignal, tick: number) => Promise<void>
}

export interface NightlyScheduler {
  /** Stops ticking, aborts the run in flight and resolves when it has ended. */
  stop(reason: string): Promise<void>
  /** Resolves once stopped. */
  readonly stopped: Promise<void>
}

/**
 * Runs `run` on a cron expression, never two at once: a tick while a run is
 * going is skipped and logged. Stopping aborts the run in flight through its
 * signal and waits for it to wind down (requests aborted, loads under way
 * committed or rolled back whole).
 *
 * @example
 * const scheduler = startNightlyScheduler({ cron: '0 3 * * *', timeZone: 'Europe/Moscow', logger, run: (signal) => nightly(signal) })
 * process.once('SIGTERM', () => void scheduler.stop('SIGTERM'))
 * await scheduler.stopped
 */
export function startNightlyScheduler(config: NightlySchedulerConfig): NightlyScheduler {
  const { logger } = config
  const controller = new AbortController()
  let current: Promise<void> | undefined
  let ticks = 0
  let stopping = false
  let markStopped: () => void = () => {}
  const stopped = new Promise<void>((resolve) => {
    markStopped = resolve
  })

  const task = cron.schedule(
    config.cron,
    () => {
      if (stopping) return
      ticks += 1
      const tick = ticks
      if (current !== undefined) {
        logger.warn({ tick }, `tick ${tick} skipped: the previous run is still going`)
        return
      }
      const startedAt = Date.now()
      logger.info({ tick }, `tick ${tick}: run starting`)
      current = config
        .run(controller.signal, tick)
        .then(
          () => logger.info({ tick, durationMs: Date.now() - startedAt }, `tick ${tick}: run finished`),
          (error: unknown) =>
            logger.error(
              { tick, durationMs: Date.now() - startedAt, err: messageOf(error) },
              `tick ${tick}: run failed: ${messageOf(error)}`,
            ),
        )
        .finally(() => {
          current = undefined
        })
    },
    { timezone: config.timeZone },
  )

  // node-cron prints its own plain-text warning to stderr when a tick comes late (the process busy
  // for over a second), unless someone listens: the warning goes through our logger instead, so
  // stderr stays JSON lines.
  task.on('execution:missed', (context) => {
    logger.warn({ at: context.date.toISOString() }, 'a tick came late: the process was busy at its time')
  })

  const next = task.getNextRun()
  logger.info(
    { cron: config.cron, timeZone: config.timeZone, nextRun: next?.toISOString() },
    `scheduled '${config.cron}' in ${config.timeZone}; next run ${next?.toISOString() ?? 'never'}`,
  )

  return {
    stopped,
    async stop(reason) {
      if (stopping) return stopped
      stopping = true
      logger.info(
        { reason, running: current !== undefined },
        `stopping (${reason})${current ? ': aborting the run in flight' : ''}`,
      )
      await task.stop()
      await task.destroy()
      controller.abort(new Error(`stopped by ${reason}`))
      await current
      logger.info({ reason }, 'stopped')
      markStopped()
      return stopped
    },
  }
}

/** Whether node-cron accepts the expression. */
export function isValidCron(expression: string): boolean {
  return cron.validate(expression)
}

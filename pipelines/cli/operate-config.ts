import { parseTimeZone } from '../core/day.ts'
import { calltouchConfigFromEnv, DEFAULT_TIME_ZONE, type CalltouchConfig } from '../sources/calltouch-deals/config.ts'
import type { CliContext } from './context.ts'

/** Whether any Calltouch site is configured at all: a config file, or the single-site variables. */
export function hasSiteConfig(ctx: CliContext, configFile: string | undefined): boolean {
  const { env } = ctx
  return [configFile, env.CALLTOUCH_CONFIG, env.CALLTOUCH_SITE_ID, env.CALLTOUCH_API_TOKEN].some(
    (value) => (value?.trim() ?? '') !== '',
  )
}

/**
 * The configured sites when there are any (a bad configuration still exits 2),
 * or none: `status` and `report` also work on a warehouse alone.
 */
export function optionalCalltouchConfig(ctx: CliContext, configFile: string | undefined): CalltouchConfig | undefined {
  if (!hasSiteConfig(ctx, configFile)) return undefined
  return calltouchConfigFromEnv(ctx.env, { configFile, cwd: ctx.cwd, now: new Date() })
}

/** The zone of days for sites the configuration does not name: CALLTOUCH_TIMEZONE, or Moscow. */
export function defaultTimeZoneFromEnv(ctx: CliContext): string {
  return parseTimeZone(ctx.env.CALLTOUCH_TIMEZONE?.trim() || DEFAULT_TIME_ZONE, 'CALLTOUCH_TIMEZONE')
}

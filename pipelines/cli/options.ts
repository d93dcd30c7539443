import { SYNC_PARTS, type SyncPart } from '../jobs/sync-job.ts'
import { parseAccountId } from '../core/account-id.ts'
import { DAY_FORMAT, dayOrderProblem, dayProblem, type Day } from '../core/day.ts'
import { siteIdProblem } from '../sources/calltouch-deals/config.ts'
import { usageError } from './context.ts'

/*
 * The options several commands share, parsed once with one message each, so
 * `--site main` reads the same whether `sync`, `report` or `spend import` refused it.
 * `parseSiteOption` and `parseLookbackDaysOption` are commander argument parsers
 * (`.option('--site <id>', help, parseSiteOption)`): commander hands the action a number.
 */

/** Help text of `--from` and `--to`, which name the format. */
export const DAY_OPTION_ARGUMENT = `<${DAY_FORMAT}>`

/**
 * `--site ID`: a Calltouch site id.
 *
 * @example parseSiteOption('12345') // 12345; parseSiteOption('main') throws '--site must be a Calltouch site id (a positive integer), got "main"'
 */
export function parseSiteOption(text: string): number {
  const siteId = parseAccountId(text)
  if (siteId === undefined) throw usageError(`--site ${siteIdProblem(text)}`)
  return siteId
}

/** `--lookback-days N`: a whole number of days, 0 or more (at most 5 digits, as the config file's 3,660 days fit). */
export function parseLookbackDaysOption(text: string): number {
  if (!/^\d{1,5}$/.test(text))
    throw usageError(`--lookback-days must be a whole number of days (0 or more), got ${JSON.stringify(text)}`)
  return Number(text)
}

/** What `--from`/`--to` must be beyond a real day. */
export interface DayRangeRules {
  /** Both options must be given (`backfill`); otherwise a missing one is null, no bound (`report`). */
  readonly required: boolean
  /** Days after today in `zone` are refused (there is nothing to read yet). */
  readonly notAfter?: { readonly zone: string; readonly now: Date }
  /** The command named before the problems, e.g. 'backfill'. */
  readonly command?: string
}

/**
 * `--from`/`--to` as an inclusive range of days: every problem of both in one
 * usage error (exit 2), e.g. `backfill: --from 2026-02-30 is not a real date;
 * --to must be a date as YYYY-MM-DD, got "yesterday"`.
 *
 * @example dayRangeOption({ from: '2026-11-01', to: undefined }, { required: false }) // { from: '2026-11-01', to: null }
 */
export function dayRangeOption(
  options: { readonly from?: string | undefined; readonly to?: string | undefined },
  rules: DayRangeRules,
): { from: Day | null; to: Day | null } {
  const problems: string[] = []
  for (const [name, value] of [
    ['--from', options.from],
    ['--to', options.to],
  ] as const) {
    if (value === undefined) {
      if (rules.required) problems.push(`${name} ${DAY_FORMAT} is required`)
      continue
    }
    const problem = dayProblem(value, rules.notAfter)
    if (problem !== undefined) problems.push(`${name} ${problem}`)
  }
  const from = options.from ?? null
  const to = options.to ?? null
  if (problems.length === 0 && from !== null && to !== null) {
    const backwards = dayOrderProblem({ name: '--from', day: from }, { name: '--to', day: to })
    if (backwards !== undefined) problems.push(backwards)
  }
  if (problems.length > 0)
    throw usageError(`${rules.command === undefined ? '' : `${rules.command}: `}${problems.join('; ')}`)
  return { from, to }
}

/** What `--only` may name: parts of a sync or backfill. */
export const ONLY_CHOICES = SYNC_PARTS

/** `--only deals,calls` (one or more parts, comma-separated), or a usage error (exit 2) naming the choices. */
export function parseOnlyOption(text: string): readonly SyncPart[] {
  const names = text.split(',').map((name) => name.trim())
  const unknown = names.filter((name) => !ONLY_CHOICES.some((choice) => choice === name))
  if (unknown.length > 0 || names.length === 0)
    throw usageError(
      `--only must list one or more of ${ONLY_CHOICES.join(', ')} (comma-separated), got ${JSON.stringify(text)}`,
    )
  return ONLY_CHOICES.filter((choice) => names.includes(choice))
}

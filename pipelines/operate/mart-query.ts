import { sql } from 'kysely'
import { EtlError } from '../core/errors.ts'
import type { WarehouseDb } from '../warehouse/connection.ts'

/**
 * What the mart reports (report roi, report funnel) share: the check that their mart exists, and
 * the SQL of a grouping's keys as `key_0 .. key_2`.
 */

/** Up to three grouping keys, always selected as key_0, key_1, key_2 (null past the grouping's own). */
export const MAX_GROUPING_KEYS = 3

/**
 * Fails (exit 1) when `mart` is not built yet, saying to run `calltouch-etl transform`; `subject`
 * names it for people, with its verb ('the ROI marts are', 'the funnel mart is').
 */
export async function assertMartBuilt(db: WarehouseDb, mart: string, subject: string): Promise<void> {
  const { rows } = await sql<{ built: boolean }>`select to_regclass(${mart}) is not null as built`.execute(db)
  if (rows[0]?.built !== true) {
    throw new EtlError('FAILED', `${subject} not built yet (${mart} does not exist): run calltouch-etl transform first`)
  }
}

/**
 * A grouping's keys as SQL: the select list (`key_0 .. key_2`, null past its own keys) and the
 * grouping set (its keys, comma separated).
 */
export function groupingKeysSql(keys: readonly string[]): { readonly select: string; readonly groupBy: string } {
  const own = keys.map((key, index) => `${key} as key_${index}`)
  const missing = Array.from(
    { length: MAX_GROUPING_KEYS - keys.length },
    (_, i) => `null::text as key_${keys.length + i}`,
  )
  return { select: [...own, ...missing].join(', '), groupBy: keys.join(', ') }
}

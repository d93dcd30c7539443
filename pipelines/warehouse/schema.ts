import type { ColumnType, Generated } from 'kysely'

/**
 * Kysely's view of the warehouse tables that TypeScript reads or writes
 * through the query builder. Tables written only by `sql/` files need no entry.
 * Database identifiers are snake_case here as in SQL; numeric and bigint
 * columns arrive as strings (see connection.ts).
 */
export interface WarehouseSchema {
  'etl.runs': EtlRunsTable
  'etl.ledger': EtlLedgerTable
}

export const RUN_STATUSES = ['running', 'succeeded', 'partial', 'failed'] as const
export type RunStatus = (typeof RUN_STATUSES)[number]

export interface EtlRunsTable {
  run_id: ColumnType<string, never, never>
  command: string
  arguments: ColumnType<Record<string, unknown>, string, string>
  started_at: ColumnType<Date, Date | string | undefined, never>
  finished_at: ColumnType<Date | null, never, Date | string>
  status: ColumnType<RunStatus, RunStatus | undefined, RunStatus>
  counters: ColumnType<Record<string, number>, string | undefined, string>
  error: string | null
  pid: number
  hostname: string
}

export const LEDGER_DAY_STATUSES = ['ok', 'failed'] as const
export type LedgerDayStatus = (typeof LEDGER_DAY_STATUSES)[number]

export interface EtlLedgerTable {
  source: string
  account: string
  day: string
  last_extracted_at: ColumnType<Date, Date | string, Date | string>
  run_id: string
  records: number | null
  status: LedgerDayStatus
  error: string | null
  last_succeeded_at: ColumnType<Date | null, Date | string | null, Date | string | null>
  attempts: Generated<number>
}

import { EtlError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { SpendFile } from '../spend/parse-spend-csv.ts'
import { importSpend, summarizeSpendFile, type SpendImportResult } from '../spend/import-spend.ts'
import type { Warehouse } from '../warehouse/connection.ts'
import { withRun } from './with-run.ts'

export interface SpendJobResult extends SpendImportResult {
  readonly runId: string
}

/**
 * Imports a validated spend file under the run lock as one `spend import` run
 * in etl.runs. The rows and the run's success commit in one transaction; a
 * failure leaves marketing.ad_spend as it was, the run failed with the error's
 * line, and throws that error with the run id in its context.
 *
 * @example
 * const result = await spendJob(warehouse, await loadSpendFile('spend.csv', 12345))
 * console.log(describeSpendImport(result))
 */
export async function spendJob(
  warehouse: Warehouse,
  file: SpendFile,
  options: { readonly logger?: Logger } = {},
): Promise<SpendJobResult> {
  const runArguments = { file: file.fileName, sites: summarizeSpendFile(file).siteIds }
  return withRun(warehouse, 'spend import', { arguments: runArguments, logger: options.logger }, async (run) => {
    try {
      const imported = await importSpend(warehouse.db, file, {
        beforeCommit: (trx, result) =>
          run.finishIn(trx, {
            status: 'succeeded',
            counters: {
              lines_read: result.linesRead,
              keys_upserted: result.keys,
              keys_inserted: result.keysInserted,
              keys_replaced: result.keysReplaced,
              days: result.days,
            },
          }),
      })
      return { result: { ...imported, runId: run.runId }, status: 'succeeded' }
    } catch (error) {
      // The run id lets a caller find the failed run's row.
      throw error instanceof EtlError
        ? new EtlError(error.code, error.message, {
            cause: error.cause,
            context: { ...error.context, runId: run.runId },
          })
        : error
    }
  })
}

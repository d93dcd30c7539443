import type { Logger } from '../core/logger.ts'
import type { Warehouse } from '../warehouse/connection.ts'
import type { RunCounters } from '../warehouse/run-ledger.ts'
import {
  buildTransform,
  compileTransform,
  type TransformOptions,
  type TransformResult,
} from '../transform/run-transform.ts'
import { withRun } from './with-run.ts'

export interface TransformJobResult extends TransformResult {
  readonly runId: string
}

/**
 * Builds and tests the dbt project under the run lock as one `transform` run
 * in etl.runs: succeeded when every model built and no test failed, failed
 * otherwise, with the failed models and the number of failed tests as its
 * error. A bad project throws before the lock is taken or a row written.
 *
 * @example
 * const result = await transformJob(warehouse, { vars: { revenue_date: 'completed_date' } }, { logger })
 * console.log(`${result.testsPassed} passed, ${result.testsFailed} failed`)
 */
export async function transformJob(
  warehouse: Warehouse,
  request: Pick<TransformOptions, 'projectDir' | 'vars' | 'runTests' | 'fullRefresh'> = {},
  options: { readonly logger?: Logger } = {},
): Promise<TransformJobResult> {
  const compiled = compileTransform(request)
  const runArguments = {
    projectDir: compiled.project.dir,
    vars: request.vars ?? {},
    ...(request.fullRefresh ? { fullRefresh: true } : {}),
  }
  return withRun(warehouse, 'transform', { arguments: runArguments, logger: options.logger }, async (run) => {
    const result = await buildTransform(warehouse.db, compiled, {
      runTests: request.runTests,
      fullRefresh: request.fullRefresh,
      logger: run.logger,
    })
    return {
      result: { ...result, runId: run.runId },
      status: result.ok ? 'succeeded' : 'failed',
      counters: transformCounters(result),
      error: transformError(result),
    }
  })
}

/** Models built, failed and skipped, tests passed and failed, and `seconds.<model>` of each model built. */
function transformCounters(result: TransformResult): RunCounters {
  const counters: Record<string, number> = {
    models_built: result.models.filter((model) => model.status === 'built').length,
    models_failed: result.models.filter((model) => model.status === 'failed').length,
    models_skipped: result.models.filter((model) => model.status === 'skipped').length,
    tests_passed: result.testsPassed,
    tests_failed: result.testsFailed,
  }
  for (const model of result.models)
    if (model.status === 'built') counters[`seconds.${model.name}`] = Number(model.seconds.toFixed(3))
  return counters
}

/** Each failed model with its error, then how many tests failed; null when nothing failed. */
function transformError(result: TransformResult): string | null {
  const failures = [
    ...result.models
      .filter((model) => model.status === 'failed' && model.error)
      .map((model) => `model ${model.name}: ${model.error}`),
    ...(result.testsFailed > 0 ? [`${result.testsFailed} test(s) failed`] : []),
  ]
  return failures.length > 0 ? failures.join('; ') : null
}

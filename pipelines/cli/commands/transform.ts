import path from 'node:path'
import type { Command } from 'commander'
import { parse } from 'yaml'
import { EXIT_CODES, EtlError } from '../../core/errors.ts'
import { redact } from '../../core/secrets.ts'
import { DEFAULT_PROJECT_DIR, loadDbtProject } from '../../transform/dbt-project.ts'
import type { TransformResult } from '../../transform/run-transform.ts'
import { transformJob } from '../../jobs/transform-job.ts'
import { say, withWarehouse, type Action, type CliContext } from '../context.ts'

/** The values the project's revenue_date var may take (see dbt/macros/revenue_date_column.sql). */
const REVENUE_DATES = ['order_day', 'completed_date'] as const

interface TransformCommandOptions {
  readonly vars?: string
  readonly projectDir?: string
  readonly tests: boolean
  readonly fullRefresh?: boolean
  readonly json?: boolean
}

/** `--vars '{revenue_date: completed_date}'`, as dbt takes it: a YAML or JSON mapping of declared vars. */
export function parseVars(text: string | undefined, declared: readonly string[]): Record<string, unknown> {
  if (text === undefined) return {}
  let vars: unknown
  try {
    vars = parse(text)
  } catch {
    vars = undefined
  }
  if (typeof vars !== 'object' || vars === null || Array.isArray(vars)) {
    throw new EtlError(
      'USAGE',
      `--vars must be a YAML or JSON mapping, e.g. --vars '{revenue_date: completed_date}' (got ${JSON.stringify(text)})`,
    )
  }
  for (const name of Object.keys(vars)) {
    if (!declared.includes(name))
      throw new EtlError(
        'USAGE',
        `--vars names '${name}', which the project does not declare; declared vars: ${declared.join(', ')}`,
      )
  }
  const revenueDate = (vars as Record<string, unknown>).revenue_date
  if (revenueDate !== undefined && !(REVENUE_DATES as readonly unknown[]).includes(revenueDate)) {
    throw new EtlError(
      'USAGE',
      `--vars revenue_date must be ${REVENUE_DATES.join(' or ')} (got ${JSON.stringify(revenueDate)})`,
    )
  }
  return vars as Record<string, unknown>
}

function report(ctx: CliContext, result: TransformResult, testsRun: boolean): void {
  for (const model of result.models) {
    const rows = model.rows === null ? '' : `, ${model.rows} rows`
    if (model.status === 'built')
      say(ctx, `built ${model.materialized} ${model.relation} in ${model.seconds.toFixed(2)} s${rows}`)
    else
      say(
        ctx,
        `${model.status === 'failed' ? 'FAILED' : 'SKIPPED'} ${model.materialized} ${model.relation}: ${model.error ?? ''}`,
      )
  }
  for (const test of result.tests) {
    if (test.status !== 'passed')
      say(ctx, `${test.status === 'failed' ? 'FAIL' : 'SKIP'} ${test.kind} test ${test.name}: ${test.message ?? ''}`)
  }
  if (!testsRun) return say(ctx, 'tests not run (--no-tests)')
  const skipped = result.tests.filter((test) => test.status === 'skipped').length
  say(ctx, `${result.testsPassed} passed, ${result.testsFailed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
}

export function registerTransformCommand(program: Command, action: Action): void {
  program
    .command('transform')
    .description(
      "build the dbt project's models (dbt/) in the warehouse without dbt, then run its data and unit tests; exits 1 if a model or a test failed",
    )
    .option(
      '--vars <mapping>',
      "values for the project's vars, a YAML or JSON mapping, e.g. '{revenue_date: completed_date}'",
    )
    .option('--project-dir <dir>', 'the dbt project to run (default: the dbt/ project that comes with calltouch-etl)')
    .option('--no-tests', 'build the models only')
    .option(
      '--full-refresh',
      "build the incremental models whole, as dbt's --full-refresh (otherwise only what changed since their last build)",
    )
    .option('--json', "print the result as one JSON object (every model's and test's outcome) instead of lines")
    .action(
      action(async (ctx: CliContext, command: Command) => {
        const options = command.opts<TransformCommandOptions>()
        const projectDir =
          options.projectDir === undefined ? DEFAULT_PROJECT_DIR : path.resolve(ctx.cwd, options.projectDir)
        // Read the project and check --vars before opening the warehouse: bad input changes nothing.
        const vars = parseVars(options.vars, Object.keys(loadDbtProject(projectDir).vars))
        const result = await withWarehouse(ctx, (warehouse) =>
          transformJob(
            warehouse,
            { projectDir, vars, runTests: options.tests, fullRefresh: options.fullRefresh === true },
            { logger: ctx.logger },
          ),
        )
        if (options.json === true) say(ctx, redact(JSON.stringify({ command: 'transform', ...result })))
        else report(ctx, result, options.tests)
        return result.ok ? EXIT_CODES.ok : EXIT_CODES.failed
      }),
    )
}

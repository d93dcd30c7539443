import { performance } from 'node:perf_hooks'
import { messageOf } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { redact } from '../core/secrets.ts'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { buildModel, lineageHashes, type BuildMode } from './build-model.ts'
import { compileProject, type CompiledProject } from './compile-project.ts'
import { DEFAULT_PROJECT_DIR, loadDbtProject, type Materialization } from './dbt-project.ts'
import { runProjectTests, type TestOutcome } from './project-tests.ts'

export interface TransformOptions {
  /** The dbt project; default `dbt/` of this repository. */
  readonly projectDir?: string
  /** Values for the project's vars (dbt's `--vars`), over dbt_project.yml's defaults. */
  readonly vars?: Readonly<Record<string, unknown>>
  /** The profile's target schema (default analytics); a model's custom schema is appended to it as dbt does. */
  readonly targetSchema?: string
  /** Build incremental models whole, as dbt's `--full-refresh` (default false). */
  readonly fullRefresh?: boolean
  /** Run the data and unit tests after building (default true). */
  readonly runTests?: boolean
  readonly logger?: Logger
}

export const MODEL_STATUSES = ['built', 'failed', 'skipped'] as const
export type ModelStatus = (typeof MODEL_STATUSES)[number]

export interface ModelOutcome {
  readonly name: string
  /** `analytics.fct_deals` */
  readonly relation: string
  readonly materialized: Materialization
  readonly status: ModelStatus
  readonly seconds: number
  /** Rows of a table; null for a view or a model not built. */
  readonly rows: number | null
  /** An incremental model built: 'full' (first build, --full-refresh, a changed model) or 'incremental'; else null. */
  readonly mode: BuildMode | null
  readonly error: string | null
}

export interface TransformResult {
  /** In build order. */
  readonly models: readonly ModelOutcome[]
  readonly tests: readonly TestOutcome[]
  readonly testsPassed: number
  readonly testsFailed: number
  /** Every model built and no test failed. */
  readonly ok: boolean
}

/**
 * Reads and compiles the dbt project: every model, macro and test is checked
 * and rendered before anything is built, so bad project files (a refused
 * Jinja construct, a cycle, an unknown ref) throw an EtlError that changes
 * nothing — not even etl.runs.
 */
export function compileTransform(
  options: Pick<TransformOptions, 'projectDir' | 'vars' | 'targetSchema'> = {},
): CompiledProject {
  return compileProject(loadDbtProject(options.projectDir ?? DEFAULT_PROJECT_DIR), {
    vars: options.vars,
    targetSchema: options.targetSchema,
  })
}

/**
 * Runs the dbt project on the warehouse without dbt: renders the models,
 * builds them in dependency order (each in its own transaction, so readers
 * never see a half-built table), writes descriptions as COMMENTs, then runs
 * the project's data and unit tests.
 *
 * A model that fails leaves its previous relation in place and its
 * dependents are skipped; the rest still build. Bad project files throw
 * before anything is built (see compileTransform). The run lock and the run's
 * row in etl.runs are the caller's (jobs/transform-job.ts).
 *
 * @example
 * const result = await runTransform(warehouse.db, { vars: { revenue_date: 'completed_date' } })
 * if (!result.ok) console.log(`${result.testsFailed} test(s) failed`)
 */
export async function runTransform(db: WarehouseDb, options: TransformOptions = {}): Promise<TransformResult> {
  return buildTransform(db, compileTransform(options), options)
}

/** Builds and tests a project compileTransform checked; see runTransform. */
export async function buildTransform(
  db: WarehouseDb,
  compiled: CompiledProject,
  options: Pick<TransformOptions, 'runTests' | 'logger' | 'fullRefresh'> = {},
): Promise<TransformResult> {
  const logger = options.logger ?? silentLogger()
  const models: ModelOutcome[] = []
  const unavailable = new Set<string>()
  // Models downstream of an incremental model built whole this run: an incremental one among them is
  // built whole too, since what its batch reads to find what changed (the history an incremental
  // upstream keeps, such as int_deals_linked_to_leads.deal_days) started afresh.
  const downstreamOfWhole = new Set<string>()
  const lineage = lineageHashes(compiled.models)
  for (const model of compiled.models) {
    const base = {
      name: model.node.name,
      relation: `${model.relation.schema}.${model.relation.identifier}`,
      materialized: model.materialized,
    }
    const missing = model.dependsOn.filter((dependency) => unavailable.has(dependency))
    if (missing.length > 0) {
      unavailable.add(model.node.name)
      models.push({
        ...base,
        status: 'skipped',
        seconds: 0,
        rows: null,
        mode: null,
        error: `not built because ${missing.join(', ')} failed`,
      })
      logger.warn({ model: model.node.name, missing }, `skipped model ${model.node.name}: ${missing.join(', ')} failed`)
      continue
    }
    const started = performance.now()
    const upstreamWhole = model.dependsOn.some((dependency) => downstreamOfWhole.has(dependency))
    try {
      const { rows, mode } = await buildModel(db, model, {
        fullRefresh: options.fullRefresh || upstreamWhole,
        lineageHash: lineage.get(model.node.name),
      })
      if (upstreamWhole || mode === 'full') downstreamOfWhole.add(model.node.name)
      const seconds = (performance.now() - started) / 1000
      models.push({ ...base, status: 'built', seconds, rows, mode, error: null })
      logger.info(
        { model: model.node.name, seconds, rows, mode },
        `built ${mode ? `${model.materialized} (${mode})` : model.materialized} ${model.relation}`,
      )
    } catch (error) {
      unavailable.add(model.node.name)
      const message = redact(messageOf(error))
      models.push({
        ...base,
        status: 'failed',
        seconds: (performance.now() - started) / 1000,
        rows: null,
        mode: null,
        error: message,
      })
      logger.error(
        { model: model.node.name, error: message },
        `model ${model.node.name} failed; its previous ${model.materialized} is left as it was`,
      )
    }
  }
  const built = new Set(models.filter((model) => model.status === 'built').map((model) => model.name))
  const tests = options.runTests === false ? [] : await runProjectTests(db, compiled, built)
  const testsPassed = tests.filter((test) => test.status === 'passed').length
  const testsFailed = tests.filter((test) => test.status === 'failed').length
  const ok = built.size === models.length && testsFailed === 0
  return { models, tests, testsPassed, testsFailed, ok }
}

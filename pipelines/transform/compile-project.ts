import { EtlError } from '../core/errors.ts'
import {
  DEFAULT_TARGET_SCHEMA,
  MATERIALIZATIONS,
  mergeConfig,
  scalarText,
  type DbtProject,
  type Materialization,
  type ModelConfig,
  type IndexSpec,
  type ModelNode,
  indexesOf,
  uniqueKeyOf,
} from './dbt-project.ts'
import { Relation, asSelect, checkTemplate, macroNamesOf, renderTemplate } from './jinja-subset.ts'

export interface CompiledModel {
  readonly node: ModelNode
  readonly relation: Relation
  readonly materialized: Materialization
  readonly persistDocs: { readonly relation: boolean; readonly columns: boolean }
  /** Models this one refers to with ref(). */
  readonly dependsOn: readonly string[]
  /** The rendered SQL: one select (an incremental model's full build: `is_incremental()` false). */
  readonly sql: string
  /** An incremental model's batch (`is_incremental()` true), its unique_key and post-hooks; undefined otherwise. */
  readonly incremental?: IncrementalModel
  /** SQL statements run after the build, in the model's transaction (dbt's `post_hook`). */
  readonly postHooks: readonly string[]
  /** A table's indexes (dbt-postgres' `indexes`), created when it is built whole. */
  readonly indexes: readonly IndexSpec[]
}

export interface IncrementalModel {
  /** The rows to delete+insert when the table exists. */
  readonly sql: string
  readonly uniqueKey: readonly string[]
}

/** The incremental strategy the runner implements, as dbt-postgres does it. */
export const INCREMENTAL_STRATEGY = 'delete+insert'

export interface RenderOverrides {
  /** What `ref('name')` and `source('a', 'b')` render instead of the relation (unit tests give CTE names). */
  readonly input?: (input: string) => string | undefined
  readonly vars?: Readonly<Record<string, unknown>>
  readonly self?: Relation
  readonly isIncremental?: boolean
}

/** A project ready to build: models in dependency order, and a renderer for tests. */
export interface CompiledProject {
  readonly project: DbtProject
  readonly models: readonly CompiledModel[]
  /** Renders any template of the project (a test, a model for a unit test). */
  render(text: string, what: string, overrides?: RenderOverrides): string
  relationOf(model: string): Relation | undefined
  /** The relation a unit test's input (`ref('x')`, `source('a', 'b')`) names. */
  inputRelation(input: string): Relation
}

/** `ref('x')` as a unit test's `input` names it, in one canonical spelling. */
export function refInput(name: string): string {
  return `ref('${name}')`
}

export function sourceInput(sourceName: string, tableName: string): string {
  return `source('${sourceName}', '${tableName}')`
}

/** A unit test's `input` (`ref('x')`, `source("a", "b")`) in the canonical spelling, or undefined. */
export function canonicalInput(input: string): string | undefined {
  const ref = /^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(input)
  if (ref) return refInput(ref[1] as string)
  const source = /^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(input)
  if (source) return sourceInput(source[1] as string, source[2] as string)
  return undefined
}

/**
 * Orders models so that each comes after every model it refers to; ties by
 * name, so the order is the same every run. A cycle is refused with its path.
 */
export function orderModels(dependencies: ReadonlyMap<string, readonly string[]>): string[] {
  const order: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name]
      throw new EtlError(
        'INPUT',
        `the models refer to each other in a cycle: ${cycle.join(' -> ')}; a model cannot depend on itself through ref()`,
      )
    }
    state.set(name, 'visiting')
    for (const dependency of [...(dependencies.get(name) ?? [])].sort()) visit(dependency, [...trail, name])
    state.set(name, 'done')
    order.push(name)
  }
  for (const name of [...dependencies.keys()].sort()) visit(name, [])
  return order
}

/** What a model's `config()` may set. */
const SQL_CONFIG_KEYS = [
  'materialized',
  'schema',
  'alias',
  'tags',
  'persist_docs',
  'unique_key',
  'incremental_strategy',
  'post_hook',
  'indexes',
] as const

/**
 * The runner implements dbt-postgres' delete+insert only: the rows of the
 * table whose unique_key the batch holds are deleted, then the batch is
 * inserted. Anything else (merge, append, microbatch, no unique_key) is
 * refused in one line, as an unsupported Jinja construct is.
 */
function checkIncremental(name: string, config: ModelConfig): void {
  const strategy = config.incrementalStrategy
  if (strategy !== INCREMENTAL_STRATEGY || !config.uniqueKey || config.uniqueKey.length === 0) {
    throw new EtlError(
      'INPUT',
      `model ${name} is incremental ${strategy === undefined ? 'without an incremental_strategy' : `with incremental_strategy '${strategy}'`}${config.uniqueKey?.length ? '' : ' and no unique_key'}, which calltouch-etl transform does not support (only incremental_strategy='${INCREMENTAL_STRATEGY}' with a unique_key); run the project with real dbt or change its config`,
    )
  }
}

function schemaFor(config: ModelConfig, targetSchema: string): string {
  // dbt's default generate_schema_name: a custom schema is appended to the target's.
  return config.schema ? `${targetSchema}_${config.schema}` : targetSchema
}

/**
 * Checks and renders every model, macro and singular test of the project
 * before anything is built, so that a refused construct or a cycle changes
 * nothing in the warehouse.
 */
export function compileProject(
  project: DbtProject,
  options: { vars?: Readonly<Record<string, unknown>>; targetSchema?: string } = {},
): CompiledProject {
  const targetSchema = options.targetSchema ?? DEFAULT_TARGET_SCHEMA
  const runVars = { ...project.vars, ...options.vars }
  const macroNames = new Set(project.macroFiles.flatMap((file) => macroNamesOf(file)))
  for (const file of project.macroFiles) checkTemplate(file.text, `macro file ${file.file}`, macroNames)

  const modelNames = new Set(project.models.map((model) => model.name))
  const relations = new Map<string, Relation>()

  const render = (
    text: string,
    what: string,
    overrides: RenderOverrides = {},
    onConfig?: (config: Record<string, unknown>) => void,
    onRef?: (name: string) => void,
  ): string => {
    const vars = { ...runVars, ...overrides.vars }
    return renderTemplate(text, what, project.macroFiles, {
      ref(name, ...rest) {
        if (rest.length > 0)
          throw new EtlError(
            'INPUT',
            `${what} calls ref() with a package or version, which calltouch-etl transform does not support; use ref('model_name')`,
          )
        if (!modelNames.has(name))
          throw new EtlError('INPUT', `${what} refers to ref('${name}'), which is not a model of the project`)
        onRef?.(name)
        const replaced = overrides.input?.(refInput(name))
        if (replaced !== undefined) return replaced
        return relations.get(name) ?? new Relation(targetSchema, name)
      },
      source(sourceName, tableName) {
        const table = project.sources.find(
          (source) => source.sourceName === sourceName && source.tableName === tableName,
        )
        if (!table)
          throw new EtlError(
            'INPUT',
            `${what} refers to source('${sourceName}', '${tableName}'), which no sources: block of the project declares`,
          )
        return overrides.input?.(sourceInput(sourceName, tableName)) ?? new Relation(table.schema, table.identifier)
      },
      config(settings) {
        if (!onConfig) throw new EtlError('INPUT', `${what} calls config(), which only a model may call`)
        onConfig(settings)
      },
      var(name, ...fallback) {
        if (name in vars) return vars[name]
        if (fallback.length > 0) return fallback[0]
        throw new EtlError(
          'INPUT',
          `${what} uses var('${name}'), which has no value: declare it under vars: in dbt_project.yml or pass it with --vars`,
        )
      },
      this: overrides.self,
      isIncremental: overrides.isIncremental,
    })
  }

  // First pass: each model's config() and refs, which decide relations and order.
  const parsed = new Map<string, { config: ModelConfig; dependsOn: string[]; postHooks: string[] }>()
  for (const node of project.models) {
    const what = `model ${node.name}`
    checkTemplate(node.sql, what, macroNames)
    const fromSql: Record<string, unknown> = {}
    const dependsOn = new Set<string>()
    render(
      node.sql,
      what,
      { self: new Relation(targetSchema, node.name) },
      (settings) => Object.assign(fromSql, settings),
      (name) => dependsOn.add(name),
    )
    const unsupported = Object.keys(fromSql).filter((key) => !(SQL_CONFIG_KEYS as readonly string[]).includes(key))
    if (unsupported.length > 0) {
      throw new EtlError(
        'INPUT',
        `model ${node.name} sets config ${unsupported.join(', ')}, which calltouch-etl transform does not support (supported: ${SQL_CONFIG_KEYS.join(', ')}); run the project with real dbt or remove it`,
      )
    }
    const config = mergeConfig(node.config, {
      materialized: fromSql.materialized === undefined ? undefined : scalarText(fromSql.materialized),
      schema: fromSql.schema === undefined ? undefined : scalarText(fromSql.schema),
      alias: fromSql.alias === undefined ? undefined : scalarText(fromSql.alias),
      uniqueKey: uniqueKeyOf(fromSql.unique_key),
      incrementalStrategy:
        fromSql.incremental_strategy === undefined ? undefined : scalarText(fromSql.incremental_strategy),
      indexes: indexesOf(fromSql.indexes, what),
    })
    if (config.materialized === 'incremental') {
      checkIncremental(node.name, config)
      // dbt reads a model's refs with is_incremental() false, and fails a build whose incremental
      // branch refers to a model it did not see ("unable to infer all dependencies"): refused here too.
      const incrementalOnly = new Set<string>()
      render(
        node.sql,
        what,
        { self: new Relation(targetSchema, node.name), isIncremental: true },
        () => {},
        (name) => {
          if (!dependsOn.has(name)) incrementalOnly.add(name)
        },
      )
      if (incrementalOnly.size > 0) {
        const hints = [...incrementalOnly].sort().map((name) => `-- depends_on: {{ ref('${name}') }}`)
        throw new EtlError(
          'INPUT',
          `model ${node.name} refers to ${[...incrementalOnly].sort().join(', ')} only inside {% if is_incremental() %}, which real dbt cannot infer; add ${hints.join(' and ')} at the top of the model`,
        )
      }
    }
    const hooks =
      fromSql.post_hook === undefined ? [] : Array.isArray(fromSql.post_hook) ? fromSql.post_hook : [fromSql.post_hook]
    const postHooks = hooks.map((hook) => scalarText(hook))
    for (const hook of postHooks) checkTemplate(hook, `the post_hook of model ${node.name}`, macroNames)
    parsed.set(node.name, { config, dependsOn: [...dependsOn], postHooks })
    relations.set(node.name, new Relation(schemaFor(config, targetSchema), config.alias ?? node.name))
  }

  const order = orderModels(new Map([...parsed].map(([name, { dependsOn }]) => [name, dependsOn])))
  const models = order.map((name): CompiledModel => {
    const node = project.models.find((model) => model.name === name) as ModelNode
    const { config, dependsOn, postHooks } = parsed.get(name) as {
      config: ModelConfig
      dependsOn: string[]
      postHooks: string[]
    }
    const materialized = config.materialized ?? 'view'
    if (!(MATERIALIZATIONS as readonly string[]).includes(materialized)) {
      throw new EtlError(
        'INPUT',
        `model ${name} is materialized as '${materialized}', which calltouch-etl transform does not support (only ${MATERIALIZATIONS.join(', ')}); run the project with real dbt or change its materialization`,
      )
    }
    const relation = relations.get(name) as Relation
    const sql = asSelect(render(node.sql, `model ${name}`, { self: relation }, () => {}))
    const incremental =
      materialized === 'incremental'
        ? {
            sql: asSelect(render(node.sql, `model ${name}`, { self: relation, isIncremental: true }, () => {})),
            uniqueKey: config.uniqueKey ?? [],
          }
        : undefined
    return {
      node,
      relation,
      materialized: materialized as Materialization,
      persistDocs: { relation: config.persistDocs?.relation ?? false, columns: config.persistDocs?.columns ?? false },
      dependsOn,
      sql,
      incremental,
      postHooks: postHooks.map((hook) => render(hook, `the post_hook of model ${name}`, { self: relation }, () => {})),
      indexes: materialized === 'view' ? [] : (config.indexes ?? []),
    }
  })
  for (const test of project.singularTests) checkTemplate(test.sql, `test ${test.name}`, macroNames)
  // dbt refuses these when it parses the project (a ParsingError), so they are refused here too.
  for (const test of project.unitTests) {
    const model = models.find((candidate) => candidate.node.name === test.model)
    if (model?.materialized !== 'incremental') continue
    if (test.isIncremental === undefined)
      throw new EtlError(
        'INPUT',
        `unit test ${test.name} tests the incremental model ${test.model} without saying which build: add overrides: {macros: {is_incremental: false}} (or true, with rows for input: this), as dbt requires`,
      )
    if (test.isIncremental && !test.given.some((given) => given.input.trim() === 'this'))
      throw new EtlError(
        'INPUT',
        `unit test ${test.name} overrides is_incremental with true for model ${test.model} but gives no rows for input: this, as dbt requires`,
      )
  }

  return {
    project,
    models,
    render: (text, what, overrides) => render(text, what, overrides, () => {}),
    relationOf: (model) => relations.get(model),
    inputRelation(input) {
      const canonical = canonicalInput(input)
      const ref = canonical && /^ref\('(.*)'\)$/.exec(canonical)?.[1]
      if (ref && relations.has(ref)) return relations.get(ref) as Relation
      const source = project.sources.find((table) => canonical === sourceInput(table.sourceName, table.tableName))
      if (source) return new Relation(source.schema, source.identifier)
      throw new EtlError(
        'INPUT',
        `${input} is neither ref('model') of a model of the project nor source('name', 'table') of a declared source`,
      )
    },
  }
}

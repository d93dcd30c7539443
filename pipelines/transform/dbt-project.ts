import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { EtlError, messageOf } from '../core/errors.ts'

/**
 * Glossary (dbt's words, used the same way here):
 * - model: a `models/**.sql` file, one relation in the warehouse;
 * - source: a table the project reads but does not build (`sources:` in yml);
 * - data test: a query that passes when it returns no rows — generic (`unique`,
 *   `not_null`, `accepted_values`, `relationships` in yml) or singular (`tests/*.sql`);
 * - unit test: a model run on given rows and compared with expected rows (`unit_tests:` in yml).
 */

/** The dbt project of this repository. */
export const DEFAULT_PROJECT_DIR = fileURLToPath(new URL('../../dbt/', import.meta.url))

/** Where the models are built unless a model's config names another schema (the profile's target schema). */
export const DEFAULT_TARGET_SCHEMA = 'analytics'

export const MATERIALIZATIONS = ['view', 'table', 'incremental'] as const
export type Materialization = (typeof MATERIALIZATIONS)[number]

export const GENERIC_TESTS = ['unique', 'not_null', 'accepted_values', 'relationships'] as const
export type GenericTestName = (typeof GENERIC_TESTS)[number]

/** Model configs the runner understands, from dbt_project.yml, a model's yml or `config()`. */
export interface ModelConfig {
  readonly materialized?: string
  readonly schema?: string
  readonly alias?: string
  readonly persistDocs?: { readonly relation: boolean; readonly columns: boolean }
  /** Incremental models: the columns that identify a row to replace (dbt's `unique_key`). */
  readonly uniqueKey?: readonly string[]
  /** Incremental models: only `delete+insert` is supported. */
  readonly incrementalStrategy?: string
  /** dbt-postgres' `indexes`: created when the table is built whole (first build, full refresh). */
  readonly indexes?: readonly IndexSpec[]
}

/** One entry of dbt-postgres' `indexes` config: `{'columns': ['deal_key'], 'unique': True}`. */
export interface IndexSpec {
  /** Columns (or expressions in parentheses), written into the index as they are, as dbt-postgres does. */
  readonly columns: readonly string[]
  readonly unique: boolean
  /** The index method (`btree`, `hash`, `gin`...); the default btree when undefined. */
  readonly type: string | undefined
}

/** dbt-postgres' `indexes` config, checked: a list of `{columns: [...], unique?: bool, type?: name}`. */
export function indexesOf(value: unknown, where: string): IndexSpec[] | undefined {
  if (value === undefined || value === null) return undefined
  const bad = (problem: string): EtlError =>
    new EtlError('INPUT', `${where} sets indexes ${problem}; write indexes=[{'columns': ['a', 'b'], 'unique': True}]`)
  if (!Array.isArray(value)) throw bad('that are not a list')
  return value.map((entry: unknown): IndexSpec => {
    if (!isMap(entry)) throw bad('with an entry that is not a mapping')
    const unknown = Object.keys(entry).filter((key) => !['columns', 'unique', 'type'].includes(key))
    if (unknown.length > 0) throw bad(`with ${unknown.join(', ')}, which calltouch-etl transform does not support`)
    const columns = entry.columns
    if (!Array.isArray(columns) || columns.length === 0 || !columns.every((column) => typeof column === 'string'))
      throw bad('with an entry without a list of columns')
    if (entry.unique !== undefined && typeof entry.unique !== 'boolean') throw bad('with unique not a boolean')
    if (entry.type !== undefined && (typeof entry.type !== 'string' || !/^[a-z_]+$/.test(entry.type)))
      throw bad('with a type that is not an index method name')
    return { columns, unique: entry.unique === true, type: entry.type }
  })
}

const CONFIG_KEYS = [
  'materialized',
  'schema',
  'alias',
  'persist_docs',
  'tags',
  'docs',
  'enabled',
  'unique_key',
  'incremental_strategy',
] as const

/** dbt's `unique_key`: one column name or a list of them. */
export function uniqueKeyOf(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? value.map((column) => scalarText(column)) : [scalarText(value)]
}

export type Row = Readonly<Record<string, unknown>>

export interface DataTestSpec {
  readonly test: GenericTestName
  /** The model the test belongs to. */
  readonly model: string
  /** A column name or SQL expression; undefined for a model-level test without one. */
  readonly columnName: string | undefined
  readonly args: Readonly<Record<string, unknown>>
  readonly customName: string | undefined
  readonly where: string | undefined
}

export interface ColumnSpec {
  readonly name: string
  readonly description: string | undefined
}

export interface ModelNode {
  readonly name: string
  /** Path inside the project, for messages: `models/marts/fct_deals.sql`. */
  readonly file: string
  readonly sql: string
  readonly description: string | undefined
  readonly columns: readonly ColumnSpec[]
  /** From dbt_project.yml and the model's yml; `config()` in the SQL comes on top. */
  readonly config: ModelConfig
}

export interface SourceTable {
  readonly sourceName: string
  readonly tableName: string
  readonly schema: string
  readonly identifier: string
}

export interface UnitTestSpec {
  readonly name: string
  readonly model: string
  /** Each input is `ref('x')`, `source('a', 'b')` or `this` (the model's own table, when is_incremental() is true). */
  readonly given: readonly { readonly input: string; readonly rows: readonly Row[] }[]
  readonly expect: readonly Row[]
  readonly vars: Readonly<Record<string, unknown>>
  /** `overrides: {macros: {is_incremental: true}}`; undefined when the test does not override it. */
  readonly isIncremental: boolean | undefined
}

export interface SingularTest {
  readonly name: string
  readonly file: string
  readonly sql: string
}

export interface MacroFile {
  readonly file: string
  readonly text: string
}

export interface DbtProject {
  readonly dir: string
  readonly name: string
  readonly vars: Readonly<Record<string, unknown>>
  readonly models: readonly ModelNode[]
  readonly sources: readonly SourceTable[]
  readonly macroFiles: readonly MacroFile[]
  readonly dataTests: readonly DataTestSpec[]
  readonly singularTests: readonly SingularTest[]
  readonly unitTests: readonly UnitTestSpec[]
}

type YamlMap = Record<string, unknown>

const isMap = (value: unknown): value is YamlMap => typeof value === 'object' && value !== null && !Array.isArray(value)

/** A YAML or Jinja value as text: scalars as written, anything else as JSON (never '[object Object]'). */
export function scalarText(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (value === null || value === undefined) return ''
  return JSON.stringify(value)
}

function invalid(file: string, problem: string): EtlError {
  return new EtlError('INPUT', `dbt project file ${file}: ${problem}`)
}

function readYaml(dir: string, file: string): unknown {
  const text = fs.readFileSync(path.join(dir, file), 'utf8')
  try {
    // Integers as BigInt: a 38-digit custom value in a unit test must not pass through a JS number.
    return parse(text, { intAsBigInt: true })
  } catch (error) {
    throw invalid(file, `is not valid YAML: ${messageOf(error).split('\n')[0]}`)
  }
}

function listFiles(dir: string, subdir: string, extension: string): string[] {
  const root = path.join(dir, subdir)
  if (!fs.existsSync(root)) return []
  return fs
    .readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith(extension))
    .map((file) => path.join(subdir, file).split(path.sep).join('/'))
    .sort()
}

function stringList(value: unknown, fallback: string[]): string[] {
  return Array.isArray(value) ? value.map(String) : fallback
}

/** Reads a model config block (`+materialized: table` or `materialized: table`), refusing what the runner cannot honour. */
function readConfig(file: string, block: YamlMap, where: string): ModelConfig {
  const config: {
    materialized?: string
    schema?: string
    alias?: string
    persistDocs?: { relation: boolean; columns: boolean }
    uniqueKey?: string[]
    incrementalStrategy?: string
  } = {}
  for (const [rawKey, value] of Object.entries(block)) {
    const key = rawKey.replace(/^\+/, '')
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      throw invalid(
        file,
        `${where} sets the config '${key}', which calltouch-etl transform does not support (supported: ${CONFIG_KEYS.join(', ')}); run the project with real dbt or remove it`,
      )
    }
    if (key === 'materialized') config.materialized = String(value)
    if (key === 'schema') config.schema = String(value)
    if (key === 'alias') config.alias = String(value)
    if (key === 'unique_key') config.uniqueKey = uniqueKeyOf(value)
    if (key === 'incremental_strategy') config.incrementalStrategy = String(value)
    if (key === 'persist_docs' && isMap(value))
      config.persistDocs = { relation: value.relation === true, columns: value.columns === true }
  }
  return config
}

/** The configs dbt_project.yml gives each folder: `models: { <project>: { +materialized: view, marts: { ... } } }`. */
function folderConfigs(file: string, block: YamlMap, prefix: string[], out: Map<string, ModelConfig>): void {
  const own: YamlMap = {}
  const folders: [string, YamlMap][] = []
  for (const [key, value] of Object.entries(block)) {
    // dbt reads a key as a config when it has a '+' or is a config's name, and as a folder otherwise.
    if (key.startsWith('+') || (CONFIG_KEYS as readonly string[]).includes(key) || !isMap(value)) own[key] = value
    else folders.push([key, value])
  }
  out.set(prefix.join('/'), readConfig(file, own, prefix.length === 0 ? 'the project' : `folder ${prefix.join('/')}`))
  for (const [folder, value] of folders) folderConfigs(file, value, [...prefix, folder], out)
}

export function mergeConfig(base: ModelConfig, top: ModelConfig): ModelConfig {
  return {
    materialized: top.materialized ?? base.materialized,
    schema: top.schema ?? base.schema,
    alias: top.alias ?? base.alias,
    persistDocs: top.persistDocs ?? base.persistDocs,
    uniqueKey: top.uniqueKey ?? base.uniqueKey,
    incrementalStrategy: top.incrementalStrategy ?? base.incrementalStrategy,
    indexes: top.indexes ?? base.indexes,
  }
}

function testEntries(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

/** One entry of `data_tests:` (or the older `tests:`): `- unique` or `- accepted_values: {values: [...]}`. */
function readDataTest(file: string, model: string, column: string | undefined, entry: unknown): DataTestSpec {
  let test: string
  let body: YamlMap = {}
  if (typeof entry === 'string') test = entry
  else if (isMap(entry) && Object.keys(entry).length === 1) {
    test = Object.keys(entry)[0] ?? ''
    const value = entry[test]
    body = isMap(value) ? value : {}
  } else throw invalid(file, `a data test of ${model} is neither a name nor a one-key mapping`)
  if (!(GENERIC_TESTS as readonly string[]).includes(test)) {
    throw invalid(
      file,
      `${model} uses the data test '${test}', which calltouch-etl transform does not support (supported: ${GENERIC_TESTS.join(', ')}); write it as a singular test in tests/ or run the project with real dbt`,
    )
  }
  const { name, config, column_name: columnName, arguments: nested, description: _description, ...rest } = body
  if (Object.keys(rest).length > 0) {
    // dbt 1.10 deprecates arguments beside name and config (MissingArgumentsPropertyInGenericTestDeprecation),
    // and the project is built with --warn-error: refuse here what real dbt refuses.
    throw invalid(
      file,
      `the ${test} test of ${model} gives ${Object.keys(rest).join(', ')} beside name and config; put the test's arguments under 'arguments:' (dbt 1.10), e.g. - ${test}: {arguments: {${Object.keys(rest)[0] ?? 'values'}: ...}}`,
    )
  }
  if (nested !== undefined && !isMap(nested))
    throw invalid(file, `the arguments of the ${test} test of ${model} are not a mapping`)
  let where: string | undefined
  if (config !== undefined) {
    if (!isMap(config) || Object.keys(config).some((key) => key !== 'where')) {
      throw invalid(
        file,
        `the ${test} test of ${model} sets a test config other than 'where', which calltouch-etl transform does not support`,
      )
    }
    where = config.where === undefined ? undefined : scalarText(config.where)
  }
  return {
    test: test as GenericTestName,
    model,
    columnName: column ?? (columnName === undefined ? undefined : scalarText(columnName)),
    args: isMap(nested) ? nested : {},
    customName: name === undefined ? undefined : scalarText(name),
    where,
  }
}

/**
 * Integers are read as BigInt, so a JS number in a YAML value is a float, which
 * Jinja2 prints unlike JavaScript (1.0 stays 1.0): refused, with the path to it.
 */
function refuseFloats(file: string, where: string, value: unknown): void {
  if (typeof value === 'number')
    throw invalid(
      file,
      `${where} is the float ${value}, which Jinja2 prints unlike calltouch-etl transform (1.0 stays 1.0); quote it as a string or use an integer`,
    )
  if (Array.isArray(value)) value.forEach((item, index) => refuseFloats(file, `${where}[${index}]`, item))
  else if (isMap(value)) for (const [key, item] of Object.entries(value)) refuseFloats(file, `${where}.${key}`, item)
}

function readRows(file: string, what: string, value: unknown): Row[] {
  if (!isMap(value)) throw invalid(file, `${what} has no rows`)
  if (value.format !== undefined && value.format !== 'dict') {
    throw invalid(
      file,
      `${what} uses format '${scalarText(value.format)}'; calltouch-etl transform reads only dict rows`,
    )
  }
  const rows = value.rows ?? []
  if (!Array.isArray(rows) || !rows.every(isMap)) throw invalid(file, `${what}: rows must be a list of mappings`)
  return rows
}

/** PostgreSQL's identifier length (NAMEDATALEN - 1). */
const MAX_UNIT_TEST_NAME_BYTES = 63

function readUnitTest(file: string, entry: unknown): UnitTestSpec {
  if (!isMap(entry) || typeof entry.name !== 'string' || typeof entry.model !== 'string')
    throw invalid(file, 'a unit test needs a name and a model')
  // dbt fails a unit test whose name passes PostgreSQL's identifier length (it names a relation
  // after it) and skips every node downstream; refusing it here keeps the two builds alike.
  if (Buffer.byteLength(entry.name) > MAX_UNIT_TEST_NAME_BYTES)
    throw invalid(
      file,
      `the unit test name ${entry.name} is ${Buffer.byteLength(entry.name)} bytes long; real dbt fails names over ${MAX_UNIT_TEST_NAME_BYTES} bytes (PostgreSQL's identifier length): shorten it`,
    )
  const what = `unit test ${entry.name}`
  let vars: YamlMap = {}
  let isIncremental: boolean | undefined
  if (entry.overrides !== undefined) {
    const overrides = isMap(entry.overrides) ? entry.overrides : {}
    const macros = isMap(overrides.macros) ? overrides.macros : {}
    const unsupported = [
      ...Object.keys(overrides).filter((key) => key !== 'vars' && key !== 'macros'),
      ...Object.keys(macros)
        .filter((key) => key !== 'is_incremental')
        .map((key) => `macros.${key}`),
    ]
    if (unsupported.length > 0)
      throw invalid(
        file,
        `${what} overrides ${unsupported.join(', ')}; calltouch-etl transform supports only overrides of vars and of the macro is_incremental`,
      )
    if (macros.is_incremental !== undefined && typeof macros.is_incremental !== 'boolean')
      throw invalid(file, `${what} overrides is_incremental with a value that is not true or false`)
    isIncremental = macros.is_incremental
    vars = isMap(overrides.vars) ? overrides.vars : {}
    refuseFloats(file, `the vars of ${what}`, vars)
  }
  const given = testEntries(entry.given).map((input) => {
    if (!isMap(input) || typeof input.input !== 'string')
      throw invalid(file, `${what}: every given needs an input such as ref('model')`)
    return { input: input.input, rows: readRows(file, `${what} (given ${input.input})`, input) }
  })
  return {
    name: entry.name,
    model: entry.model,
    given,
    expect: readRows(file, `${what} (expect)`, entry.expect),
    vars,
    isIncremental,
  }
}

/**
 * Reads a dbt project: dbt_project.yml, models (.sql and .yml), macros and
 * singular tests. Anything the runner could not run the way dbt would is
 * refused here, before the warehouse is touched.
 */
export function loadDbtProject(dir: string = DEFAULT_PROJECT_DIR): DbtProject {
  if (!fs.existsSync(path.join(dir, 'dbt_project.yml'))) {
    throw new EtlError('USAGE', `no dbt_project.yml in ${dir}: point --project-dir at a dbt project`)
  }
  const projectFile = readYaml(dir, 'dbt_project.yml')
  if (!isMap(projectFile) || typeof projectFile.name !== 'string') throw invalid('dbt_project.yml', 'has no name')
  const name = projectFile.name
  const modelPaths = stringList(projectFile['model-paths'], ['models'])
  const macroPaths = stringList(projectFile['macro-paths'], ['macros'])
  const testPaths = stringList(projectFile['test-paths'], ['tests'])
  const vars = isMap(projectFile.vars) ? projectFile.vars : {}
  refuseFloats('dbt_project.yml', 'vars', vars)

  const configs = new Map<string, ModelConfig>()
  const modelsBlock = isMap(projectFile.models) ? projectFile.models : {}
  const ownBlock = modelsBlock[name]
  if (isMap(ownBlock)) folderConfigs('dbt_project.yml', ownBlock, [], configs)

  const properties = new Map<string, { description: string | undefined; columns: ColumnSpec[]; config: ModelConfig }>()
  const sources: SourceTable[] = []
  const dataTests: DataTestSpec[] = []
  const unitTests: UnitTestSpec[] = []
  for (const file of modelPaths.flatMap((modelPath) => listFiles(dir, modelPath, '.yml'))) {
    const content = readYaml(dir, file)
    if (content === null || content === undefined) continue
    if (!isMap(content)) throw invalid(file, 'is not a mapping')
    const unknown = Object.keys(content).filter((key) => !['version', 'models', 'sources', 'unit_tests'].includes(key))
    if (unknown.length > 0)
      throw invalid(
        file,
        `has ${unknown.join(', ')}, which calltouch-etl transform does not read (it reads models, sources and unit_tests)`,
      )
    for (const source of testEntries(content.sources)) {
      if (!isMap(source) || typeof source.name !== 'string') throw invalid(file, 'a source needs a name')
      for (const table of testEntries(source.tables)) {
        if (!isMap(table) || typeof table.name !== 'string')
          throw invalid(file, `a table of source ${source.name} needs a name`)
        const columns = testEntries(table.columns).filter(isMap)
        if (table.data_tests || table.tests || columns.some((column) => column.data_tests || column.tests)) {
          throw invalid(
            file,
            `source ${source.name}.${table.name} has data tests, which calltouch-etl transform runs only on models; test the staging model instead`,
          )
        }
        sources.push({
          sourceName: source.name,
          tableName: table.name,
          schema: typeof source.schema === 'string' ? source.schema : source.name,
          identifier: typeof table.identifier === 'string' ? table.identifier : table.name,
        })
      }
    }
    for (const model of testEntries(content.models)) {
      if (!isMap(model) || typeof model.name !== 'string') throw invalid(file, 'a model needs a name')
      const modelName = model.name
      const columns: ColumnSpec[] = []
      for (const column of testEntries(model.columns)) {
        if (!isMap(column) || typeof column.name !== 'string')
          throw invalid(file, `a column of ${modelName} needs a name`)
        columns.push({
          name: column.name,
          description: typeof column.description === 'string' ? column.description.trim() : undefined,
        })
        for (const entry of testEntries(column.data_tests ?? column.tests))
          dataTests.push(readDataTest(file, modelName, column.name, entry))
      }
      for (const entry of testEntries(model.data_tests ?? model.tests))
        dataTests.push(readDataTest(file, modelName, undefined, entry))
      properties.set(modelName, {
        description: typeof model.description === 'string' ? model.description.trim() : undefined,
        columns,
        config: isMap(model.config) ? readConfig(file, model.config, `model ${modelName}`) : {},
      })
    }
    for (const entry of testEntries(content.unit_tests)) unitTests.push(readUnitTest(file, entry))
  }

  const models: ModelNode[] = []
  for (const modelPath of modelPaths) {
    for (const file of listFiles(dir, modelPath, '.sql')) {
      const modelName = path.basename(file, '.sql')
      if (models.some((model) => model.name === modelName))
        throw invalid(file, `a second model named ${modelName}; model names must be unique`)
      const folders = path
        .dirname(path.relative(modelPath, file))
        .split('/')
        .filter((part) => part !== '.')
      let config: ModelConfig = {}
      for (let depth = 0; depth <= folders.length; depth++)
        config = mergeConfig(config, configs.get(folders.slice(0, depth).join('/')) ?? {})
      const own = properties.get(modelName)
      models.push({
        name: modelName,
        file,
        sql: fs.readFileSync(path.join(dir, file), 'utf8'),
        description: own?.description,
        columns: own?.columns ?? [],
        config: mergeConfig(config, own?.config ?? {}),
      })
    }
  }
  for (const modelName of properties.keys()) {
    if (!models.some((model) => model.name === modelName))
      throw invalid('models', `a yml file describes the model ${modelName}, which has no .sql file`)
  }
  for (const test of [...dataTests, ...unitTests]) {
    if (!models.some((model) => model.name === test.model))
      throw invalid('models', `a test is written for the model ${test.model}, which has no .sql file`)
  }

  const macroFiles = macroPaths
    .flatMap((macroPath) => listFiles(dir, macroPath, '.sql'))
    .map((file) => ({ file, text: fs.readFileSync(path.join(dir, file), 'utf8') }))
  const singularTests = testPaths
    .flatMap((testPath) => listFiles(dir, testPath, '.sql'))
    .map((file) => ({
      name: path.basename(file, '.sql'),
      file,
      sql: fs.readFileSync(path.join(dir, file), 'utf8'),
    }))
  return { dir, name, vars, models, sources, macroFiles, dataTests, singularTests, unitTests }
}

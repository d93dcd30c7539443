import nunjucks from 'nunjucks'
import { EtlError, messageOf } from '../core/errors.ts'
import type { MacroFile } from './dbt-project.ts'
import {
  JINJA2_FUNCTIONS,
  TITLE_CASE_CONSTANTS,
  compileRewritten,
  rewriteForJinja2,
  type AstNode,
} from './jinja2-semantics.ts'
import { UnprintableValue, unprintable } from './python-values.ts'

/**
 * The Jinja the runner renders, with nunjucks: `ref`, `source`, `config`,
 * `var`, `is_incremental`, `this`, the project's macros, and plain template
 * logic (`if`, `for`, `set`, `macro`, literals, comparisons, `~`). Everything
 * else — filters, `is` tests, `include`, `import`, `call`, dbt's `adapter`,
 * `run_query`, `env_var`, packages — is refused with the template and the
 * construct named, so a model that renders here renders the same in real dbt.
 */
export const SUPPORTED_JINJA = "ref, source, config, var, is_incremental, this and the project's macros"

/** A relation as models see it: `{{ ref('x') }}` renders `"analytics"."x"`; `this.schema` works too. */
export class Relation {
  readonly schema: string
  readonly identifier: string
  constructor(schema: string, identifier: string) {
    this.schema = schema
    this.identifier = identifier
  }

  get name(): string {
    return this.identifier
  }

  toString(): string {
    return `${quoteIdentifier(this.schema)}.${quoteIdentifier(this.identifier)}`
  }
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

/** A rendered model or test as one select to wrap: dbt files may end with a semicolon. */
export function asSelect(rendered: string): string {
  return rendered.trim().replace(/;\s*$/, '')
}

/** What a template may call; each function throws an EtlError to refuse. */
export interface TemplateFunctions {
  ref(name: string, ...rest: unknown[]): string | Relation
  source(sourceName: string, tableName: string): string | Relation
  config(settings: Record<string, unknown>): void
  var(name: string, ...fallback: unknown[]): unknown
  readonly this: Relation | undefined
  /** What `is_incremental()` returns: true only when an incremental model's table exists and no full refresh is asked. */
  readonly isIncremental?: boolean
}

const FUNCTIONS = ['ref', 'source', 'config', 'var', 'is_incremental', 'this'] as const

/** nunjucks node types that mean the same in Jinja and need nothing from dbt. */
const PLAIN_NODES = new Set([
  'Root',
  'NodeList',
  'Output',
  'TemplateData',
  'Literal',
  'Symbol',
  'LookupVal',
  'FunCall',
  'KeywordArgs',
  'Pair',
  'Array',
  'Dict',
  'Group',
  'If',
  'InlineIf',
  'For',
  'Set',
  'Capture',
  'Macro',
  'Compare',
  'CompareOperand',
  'And',
  'Or',
  'Not',
  'In',
  'Add',
  'Concat',
  'Sub',
  'Mul',
  'FloorDiv',
  'Mod',
  'Pow',
  'Neg',
  'Pos',
])

/** How a refused node is named in the message. */
const NODE_NAMES: Readonly<Record<string, string>> = {
  Filter: 'a filter',
  FilterAsync: 'a filter',
  Is: "an 'is' test",
  Include: '{% include %}',
  Import: '{% import %}',
  FromImport: '{% from ... import %}',
  Extends: '{% extends %}',
  Block: '{% block %}',
  Super: 'super()',
  Caller: '{% call %}',
  CallExtension: 'a nunjucks extension',
  Switch: '{% switch %}',
  Div: "'/' (Jinja2's division gives a float: 6 / 2 renders 3.0; use // for integers)",
}

/** nunjucks' parser and exported-macro API, which its type definitions leave out. */
interface NunjucksInternals {
  readonly parser: { parse(text: string, extensions: unknown[], options: object): unknown }
}
interface ExportingTemplate {
  getExported(context: object, frame: null, callback: (error: Error | null, exported: unknown) => void): void
}

const isNode = (value: unknown): value is AstNode =>
  typeof value === 'object' && value !== null && typeof (value as { typename?: unknown }).typename === 'string'

function childrenOf(node: AstNode): AstNode[] {
  const children: AstNode[] = []
  for (const field of node.fields) {
    const value = node[field]
    if (Array.isArray(value)) children.push(...value.filter(isNode))
    else if (isNode(value)) children.push(value)
  }
  return children
}

function walk(node: AstNode, visit: (node: AstNode) => void): void {
  visit(node)
  for (const child of childrenOf(node)) {
    // A keyword argument's name (materialized= in config(...)) is a Symbol node, not a variable.
    if (node.typename === 'KeywordArgs' && child.typename === 'Pair') {
      if (isNode(child.value)) walk(child.value, visit)
    } else walk(child, visit)
  }
}

function refusal(what: string, construct: string, line: number): EtlError {
  return new EtlError(
    'INPUT',
    `${what} uses ${construct} (line ${line}), which calltouch-etl transform does not support (it renders ${SUPPORTED_JINJA}); rewrite it in plain SQL or run the project with real dbt`,
  )
}

function parseTemplate(text: string, what: string): AstNode {
  try {
    return (nunjucks as unknown as NunjucksInternals).parser.parse(text, [], {}) as AstNode
  } catch (error) {
    const message = messageOf(error)
    const tag = /unknown block tag: (\w+)/.exec(message)?.[1]
    // The parser counts lines from 0.
    const line = Number(/\[Line (\d+)/.exec(message)?.[1] ?? 0) + 1
    if (tag) throw refusal(what, `{% ${tag} %}`, line)
    throw new EtlError(
      'INPUT',
      `${what} is not a template calltouch-etl transform can read: ${message.replace(/\s+/g, ' ').trim()}`,
    )
  }
}

interface Token {
  readonly type: string
  readonly value: string
  readonly lineno: number
}
interface NunjucksLexer {
  readonly lexer: { lex(text: string, options: object): { nextToken(): Token | null } }
}

/** The first float literal (1.0, 0.5) in the template's tags, with its line. */
function floatLiteralOf(text: string): { value: string; line: number } | undefined {
  const tokens = (nunjucks as unknown as NunjucksLexer).lexer.lex(text, {})
  for (let token = tokens.nextToken(); token !== null; token = tokens.nextToken())
    if (token.type === 'float') return { value: token.value, line: token.lineno + 1 }
  return undefined
}

/** Names a template binds itself: `set`, `for`, macro names and arguments. */
function boundNames(root: AstNode): Set<string> {
  const names = new Set<string>(['loop'])
  const addSymbols = (node: unknown): void => {
    if (!isNode(node)) return
    walk(node, (inner) => {
      if (inner.typename === 'Symbol') names.add(String(inner.value))
    })
  }
  walk(root, (node) => {
    if (node.typename === 'Set') for (const target of (node.targets as unknown[]) ?? []) addSymbols(target)
    if (node.typename === 'For') addSymbols(node.name)
    if (node.typename === 'Macro') {
      addSymbols(node.name)
      addSymbols(node.args)
      // Arguments with defaults (fallback='') are keyword pairs, which walk() passes over.
      const args = isNode(node.args) ? childrenOf(node.args) : []
      for (const pair of args.filter((arg) => arg.typename === 'KeywordArgs').flatMap(childrenOf)) addSymbols(pair.key)
    }
  })
  return names
}

/**
 * Refuses, with the template and the construct named, anything outside the
 * subset. `known` are the macro names of the project.
 */
export function checkTemplate(text: string, what: string, known: ReadonlySet<string>): void {
  const root = parseTemplate(text, what)
  const float = floatLiteralOf(text)
  if (float)
    throw refusal(what, `the float literal ${float.value} (Jinja2 prints 1.0 where JavaScript prints 1)`, float.line)
  const bound = boundNames(root)
  walk(root, (node) => {
    const line = node.lineno + 1
    if (!PLAIN_NODES.has(node.typename))
      throw refusal(what, NODE_NAMES[node.typename] ?? `{% ${node.typename.toLowerCase()} %}`, line)
    if (node.typename === 'Literal' && node.value instanceof RegExp)
      throw refusal(what, 'a regular expression literal', line)
    if (node.typename === 'Symbol') {
      const name = String(node.value)
      if (
        !(FUNCTIONS as readonly string[]).includes(name) &&
        !Object.hasOwn(TITLE_CASE_CONSTANTS, name) &&
        !known.has(name) &&
        !bound.has(name)
      )
        throw refusal(what, `'${name}'`, line)
    }
  })
}

/** The macros a macro file defines (a file may define several). */
export function macroNamesOf(file: MacroFile): string[] {
  const names: string[] = []
  walk(parseTemplate(file.text, `macro file ${file.file}`), (node) => {
    if (node.typename === 'Macro' && isNode(node.name)) names.push(String(node.name.value))
  })
  return names
}

/** nunjucks passes keyword arguments as a last object marked `__keywords`. */
function splitKeywords(args: unknown[]): { positional: unknown[]; keywords: Record<string, unknown> } {
  const last = args[args.length - 1]
  if (typeof last === 'object' && last !== null && (last as { __keywords?: boolean }).__keywords === true) {
    const { __keywords: _marker, ...keywords } = last as Record<string, unknown>
    return { positional: args.slice(0, -1), keywords }
  }
  return { positional: args, keywords: {} }
}

/**
 * Renders a checked template (see `checkTemplate`) with the project's macros.
 * An EtlError thrown by one of `functions` comes out as itself, not wrapped in
 * nunjucks' message.
 */
export function renderTemplate(
  text: string,
  what: string,
  macroFiles: readonly MacroFile[],
  functions: TemplateFunctions,
): string {
  let failure: unknown
  const guard = <T>(call: () => T): T => {
    try {
      return call()
    } catch (error) {
      failure ??= error
      throw error
    }
  }
  const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true })
  env.addGlobal('ref', (...args: unknown[]) => guard(() => functions.ref(String(args[0]), ...args.slice(1))))
  env.addGlobal('source', (...args: unknown[]) => guard(() => functions.source(String(args[0]), String(args[1]))))
  env.addGlobal('config', (...args: unknown[]) =>
    guard(() => {
      functions.config(splitKeywords(args).keywords)
      return ''
    }),
  )
  env.addGlobal('var', (...args: unknown[]) =>
    guard(() => {
      const { positional } = splitKeywords(args)
      return functions.var(String(positional[0]), ...positional.slice(1, 2))
    }),
  )
  env.addGlobal('is_incremental', () => functions.isIncremental === true)
  env.addGlobal('this', functions.this ?? null)
  for (const [name, compute] of Object.entries(JINJA2_FUNCTIONS))
    env.addGlobal(name, (...args: unknown[]) =>
      guard(() => {
        try {
          return compute(...args)
        } catch (error) {
          throw error instanceof UnprintableValue ? unprintable(what, error) : error
        }
      }),
    )
  // Computes and prints as Jinja2 does (jinja2-semantics.ts), not as JavaScript.
  const compile = (source: string, name: string): nunjucks.Template =>
    new nunjucks.Template(
      { type: 'code', obj: compileRewritten(rewriteForJinja2(parseTemplate(source, name)), name) } as unknown as string,
      env,
      name,
    )
  try {
    for (const file of macroFiles) {
      const template = compile(file.text, file.file)
      let exported: Record<string, unknown> | undefined
      // Synchronous: the callback runs before getExported returns (no async filters exist here).
      ;(template as unknown as ExportingTemplate).getExported({}, null, (error, result) => {
        if (error) throw error
        exported = result as Record<string, unknown>
      })
      for (const [name, macro] of Object.entries(exported ?? {})) env.addGlobal(name, macro)
    }
    return compile(text, what).render({})
  } catch (error) {
    if (failure instanceof EtlError) throw failure
    const detail = messageOf(failure ?? error)
      .replace(/\s+/g, ' ')
      .trim()
    throw new EtlError('INPUT', `${what} could not be rendered: ${detail}`, { cause: error })
  }
}

import { createRequire } from 'node:module'
import nunjucks from 'nunjucks'
import { UnprintableValue, pythonFloorDivision, pythonModulo, pythonRepr, pythonStr } from './python-values.ts'

/**
 * nunjucks parses Jinja, but computes and prints like JavaScript: `{{ true }}`
 * is `true` (Jinja2: `True`), `{{ [1, 'a'] }}` is `1,a` (`[1, 'a']`), a dict
 * is `[object Object]`, `-7 % 3` is -1 (2), `1 == '1'` holds (it does not),
 * and an empty list is true. Before compiling, every output, `~`, arithmetic
 * operator, comparison and condition of a template is rewritten into a call
 * of one of the functions below, which compute and print as Jinja2 on Python
 * does, or refuse (UnprintableValue) what they cannot. Division `/` and float
 * literals are refused before that, by checkTemplate: in Python they give
 * floats, which print unlike JS numbers (`6 / 2` is `3.0`).
 */

/** The node types nunjucks' AST is built of, and how this file rewrites them. */
export interface AstNode {
  readonly typename: string
  readonly fields: readonly string[]
  readonly lineno: number
  readonly colno: number
  [field: string]: unknown
}

interface NodeClass {
  new (lineno: number, colno: number, ...fields: unknown[]): AstNode
}

const nodes = (nunjucks as unknown as { nodes: Record<string, NodeClass> }).nodes
const require = createRequire(import.meta.url)
const { Compiler } = require('nunjucks/src/compiler') as {
  Compiler: new (name: string, throwOnUndefined: boolean) => { compile(node: unknown): void; getCode(): string }
}
const transformer = require('nunjucks/src/transformer') as {
  transform(ast: unknown, asyncFilters: readonly string[], name: string): unknown
}

const isNode = (value: unknown): value is AstNode =>
  typeof value === 'object' && value !== null && typeof (value as { typename?: unknown }).typename === 'string'

function node(type: string, at: AstNode, ...fields: unknown[]): AstNode {
  const NodeType = nodes[type] as NodeClass
  return new NodeType(at.lineno, at.colno, ...fields)
}

/** `name(args...)` at the place of `at`. */
function call(name: string, at: AstNode, args: readonly AstNode[]): AstNode {
  return node('FunCall', at, node('Symbol', at, name), node('NodeList', at, [...args]))
}

const literal = (at: AstNode, value: unknown): AstNode => node('Literal', at, value)

/** Jinja2's title-case constants (`{'unique': True}`), which nunjucks reads as undefined names. */
export const TITLE_CASE_CONSTANTS: Readonly<Record<string, boolean | null>> = { True: true, False: false, None: null }

const ARITHMETIC: Readonly<Record<string, string>> = {
  Add: '+',
  Sub: '-',
  Mul: '*',
  Pow: '**',
  Mod: '%',
  FloorDiv: '//',
}

/** Rewrites a parsed template in place (children first) so it computes as Jinja2; returns the new root. */
export function rewriteForJinja2(root: AstNode): AstNode {
  const rewrite = (current: AstNode): AstNode => {
    for (const field of current.fields) {
      const value = current[field]
      if (Array.isArray(value))
        current[field] = (value as unknown[]).map((child) => (isNode(child) ? rewrite(child) : child))
      else if (isNode(value)) current[field] = rewrite(value)
    }
    const operator = ARITHMETIC[current.typename]
    if (operator !== undefined)
      return call('__jinja2_arithmetic', current, [
        literal(current, operator),
        current.left as AstNode,
        current.right as AstNode,
      ])
    switch (current.typename) {
      case 'Symbol': {
        const name = current.value as string
        return Object.hasOwn(TITLE_CASE_CONSTANTS, name) ? literal(current, TITLE_CASE_CONSTANTS[name]) : current
      }
      case 'Output':
        current.children = (current.children as AstNode[]).map((child) =>
          child.typename === 'TemplateData' ? child : call('__jinja2_str', child, [child]),
        )
        return current
      case 'Concat':
        return call('__jinja2_concat', current, [current.left as AstNode, current.right as AstNode])
      case 'Neg':
      case 'Pos':
        return call('__jinja2_arithmetic', current, [
          literal(current, current.typename === 'Neg' ? '-' : '+'),
          literal(current, 0),
          current.target as AstNode,
        ])
      case 'Not':
        return call('__jinja2_not', current, [current.target as AstNode])
      case 'And':
      case 'Or':
        return call(current.typename === 'And' ? '__jinja2_and' : '__jinja2_or', current, [
          current.left as AstNode,
          current.right as AstNode,
        ])
      case 'If':
      case 'InlineIf':
        current.cond = call('__jinja2_truthy', current, [current.cond as AstNode])
        return current
      case 'Compare': {
        const ops = current.ops as AstNode[]
        return call('__jinja2_compare', current, [
          current.expr as AstNode,
          ...ops.flatMap((op) => [literal(op, op.type), op.expr as AstNode]),
        ])
      }
      default:
        return current
    }
  }
  return rewrite(root)
}

/** Compiles a rewritten template into what `new nunjucks.Template({ type: 'code', obj })` takes. */
export function compileRewritten(root: AstNode, name: string): Record<string, unknown> {
  const compiler = new Compiler(name, true)
  compiler.compile(transformer.transform(root, [], name))
  // nunjucks turns its compiled code into a function the same way (Template._compile).
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return (new Function(compiler.getCode()) as () => Record<string, unknown>)()
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)

/** nunjucks' SafeString (a macro's output) is a str to Jinja2 (Markup). */
const asText = (value: unknown): unknown =>
  value instanceof (nunjucks.runtime as unknown as { SafeString: new () => object }).SafeString
    ? (value as { toString(): string }).toString()
    : value

/** Python's truth: empty strings, lists and dicts, 0 and None are false. */
export function pythonTruthy(raw: unknown): boolean {
  const value = asText(raw)
  if (value === null || value === undefined) return false
  if (typeof value === 'string') return value.length > 0
  if (typeof value === 'bigint') return value !== 0n
  if (Array.isArray(value)) return value.length > 0
  if (isPlainObject(value)) return Object.keys(value).length > 0
  return Boolean(value)
}

/** An int (bool is one in Python), or undefined for anything else. */
function integerOf(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER))
    return Number(value)
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new UnprintableValue(`the float ${value}, which Jinja2 computes as a float`)
    return value
  }
  return undefined
}

function describe(value: unknown): string {
  try {
    return pythonRepr(value)
  } catch {
    return typeof value
  }
}

function safeInteger(result: number, expression: string): number {
  if (!Number.isSafeInteger(result))
    throw new UnprintableValue(`${expression} = ${result}, beyond the integers the runner computes exactly`)
  return result === 0 ? 0 : result
}

/** `a op b` as Python computes it on ints, strs and lists; anything else is refused. */
export function pythonArithmetic(operator: string, rawLeft: unknown, rawRight: unknown): unknown {
  const left = asText(rawLeft)
  const right = asText(rawRight)
  if (operator === '%') return pythonModulo(left, right)
  if (operator === '//') return pythonFloorDivision(left, right)
  const [a, b] = [integerOf(left), integerOf(right)]
  const expression = `${describe(left)} ${operator} ${describe(right)}`
  if (a !== undefined && b !== undefined) {
    if (operator === '+') return safeInteger(a + b, expression)
    if (operator === '-') return safeInteger(a - b, expression)
    if (operator === '*') return safeInteger(a * b, expression)
    if (operator === '**') {
      if (b < 0) throw new UnprintableValue(`${expression}, a float in Python`)
      return safeInteger(a ** b, expression)
    }
  }
  if (operator === '+' && typeof left === 'string' && typeof right === 'string') return left + right
  if (operator === '+' && Array.isArray(left) && Array.isArray(right))
    return [...(left as unknown[]), ...(right as unknown[])]
  if (operator === '*') {
    const [sequence, times] = a === undefined ? [left, b] : [right, a]
    if (times !== undefined && typeof sequence === 'string') return sequence.repeat(Math.max(times, 0))
    if (times !== undefined && Array.isArray(sequence))
      return Array.from({ length: Math.max(times, 0) }, () => sequence as unknown[]).flat()
  }
  throw new UnprintableValue(`${expression}, which Jinja2 refuses or computes unlike JavaScript`)
}

/** Python's ==: no coercion between str and int, lists and dicts by value. */
export function pythonEquals(rawLeft: unknown, rawRight: unknown): boolean {
  const left = asText(rawLeft)
  const right = asText(rawRight)
  const [a, b] = [integerOf(left), integerOf(right)]
  if (a !== undefined || b !== undefined) return a === b
  if (left === null || left === undefined || right === null || right === undefined)
    return (left ?? null) === (right ?? null)
  if (Array.isArray(left) || Array.isArray(right))
    return (
      Array.isArray(left) &&
      Array.isArray(right) &&
      left.length === right.length &&
      left.every((item, index) => pythonEquals(item, right[index]))
    )
  if (isPlainObject(left) || isPlainObject(right)) {
    if (!isPlainObject(left) || !isPlainObject(right)) return false
    const keys = Object.keys(left)
    return (
      keys.length === Object.keys(right).length &&
      keys.every((key) => key in right && pythonEquals(left[key], right[key]))
    )
  }
  return left === right
}

/** A comparison chain `a < b <= c` as Python: each pair compared, all must hold. */
export function pythonCompare(first: unknown, ...rest: unknown[]): boolean {
  let left = first
  for (let index = 0; index < rest.length; index += 2) {
    const operator = String(rest[index])
    const right = rest[index + 1]
    let holds: boolean
    if (operator === '==' || operator === '!=') holds = pythonEquals(left, right) === (operator === '==')
    else {
      const [l, r] = [asText(left), asText(right)]
      const [a, b] = [integerOf(l), integerOf(r)]
      const both = a !== undefined && b !== undefined ? ([a, b] as const) : undefined
      const strings = typeof l === 'string' && typeof r === 'string' ? ([l, r] as const) : undefined
      const pair = both ?? strings
      if (!pair || !['<', '>', '<=', '>='].includes(operator))
        throw new UnprintableValue(`${describe(l)} ${operator} ${describe(r)}, which Jinja2 refuses`)
      const [x, y] = pair
      holds = operator === '<' ? x < y : operator === '>' ? x > y : operator === '<=' ? x <= y : x >= y
    }
    if (!holds) return false
    left = right
  }
  return true
}

/** The functions the rewritten templates call, to add as globals of the environment. */
export const JINJA2_FUNCTIONS: Readonly<Record<string, (...args: unknown[]) => unknown>> = {
  __jinja2_str: (value) => pythonStr(asText(value)),
  __jinja2_concat: (left, right) => pythonStr(asText(left)) + pythonStr(asText(right)),
  __jinja2_arithmetic: (operator, left, right) => pythonArithmetic(String(operator), left, right),
  __jinja2_truthy: (value) => pythonTruthy(value),
  __jinja2_not: (value) => !pythonTruthy(value),
  __jinja2_and: (left, right) => (pythonTruthy(left) ? right : left),
  __jinja2_or: (left, right) => (pythonTruthy(left) ? left : right),
  __jinja2_compare: (first, ...rest) => pythonCompare(first, ...rest),
}

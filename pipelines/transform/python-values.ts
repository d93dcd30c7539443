import { EtlError } from '../core/errors.ts'

/**
 * Values as Python prints them, for what real dbt (Jinja2 on Python) would
 * write: `str()` for `{{ value }}` and `~`, `repr()` inside a list or dict.
 * A value Python would print differently from any JS reading of it is refused
 * (a float: 1.0 and 1 are one JS number; a function, a class instance).
 */

/** Thrown for a value the runner cannot print as Python would; the caller names the template. */
export class UnprintableValue extends Error {}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)

function integerText(value: number | bigint): string {
  if (typeof value === 'bigint') return value.toString()
  if (!Number.isSafeInteger(value)) {
    throw new UnprintableValue(
      `the number ${value}, which Jinja2 would print as a float or a larger integer; write it in SQL or quote it`,
    )
  }
  // -0 is an integer 0 in Python.
  return value === 0 ? '0' : String(value)
}

/** Python's repr() of a str: single quotes unless the text has ' and no ", escapes as Python writes them. */
export function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'"
  let body = ''
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0
    if (char === '\\') body += '\\\\'
    else if (char === quote) body += `\\${quote}`
    else if (char === '\n') body += '\\n'
    else if (char === '\r') body += '\\r'
    else if (char === '\t') body += '\\t'
    else if (code < 0x20 || code === 0x7f) body += `\\x${code.toString(16).padStart(2, '0')}`
    else if (code >= 0x80 && code < 0xa0) body += `\\x${code.toString(16).padStart(2, '0')}`
    else body += char
  }
  return `${quote}${body}${quote}`
}

/** Python's repr() of a value inside a list or dict. */
export function pythonRepr(value: unknown): string {
  if (typeof value === 'string') return pythonStringRepr(value)
  // nunjucks' SafeString (a macro's output) extends String: a str to Jinja2 without autoescape.
  if (value instanceof String) return pythonStringRepr(value.toString())
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`
  if (isPlainObject(value))
    return `{${Object.entries(value)
      .map(([key, item]) => `${pythonStringRepr(key)}: ${pythonRepr(item)}`)
      .join(', ')}}`
  return pythonStr(value)
}

/**
 * Python's str() of a value, what Jinja2 writes for `{{ value }}` and `~`:
 * True/False, None, [1, 'a'], {'k': 'v'}; strings and objects that render
 * themselves (a relation, a macro's output) as their own text.
 */
export function pythonStr(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (value === null || value === undefined) return 'None'
  if (typeof value === 'bigint') return integerText(value)
  if (typeof value === 'number') {
    if (!Number.isInteger(value))
      throw new UnprintableValue(
        `the float ${value}, which Jinja2 may print differently; write it in SQL or quote it as a string`,
      )
    return integerText(value)
  }
  if (Array.isArray(value) || isPlainObject(value)) return pythonRepr(value)
  // A relation or nunjucks' SafeString (a macro's output) renders itself.
  if (typeof value === 'object' && Object.prototype.hasOwnProperty.call(Object.getPrototypeOf(value), 'toString'))
    return (value as { toString(): string }).toString()
  throw new UnprintableValue(`a ${typeof value} value, which Jinja2 would print as Python's repr of it`)
}

/** Python's `a % b` on integers: the sign of the divisor (-7 % 3 is 2). */
export function pythonModulo(left: unknown, right: unknown): number {
  const [a, b] = integers('%', left, right)
  if (b === 0) throw new UnprintableValue('a modulo by zero, which Jinja2 refuses (ZeroDivisionError)')
  return ((a % b) + b) % b
}

/** Python's `a // b` on integers: rounded towards negative infinity. */
export function pythonFloorDivision(left: unknown, right: unknown): number {
  const [a, b] = integers('//', left, right)
  if (b === 0) throw new UnprintableValue('an integer division by zero, which Jinja2 refuses (ZeroDivisionError)')
  return Math.floor(a / b)
}

function integers(operator: string, left: unknown, right: unknown): [number, number] {
  const toInteger = (value: unknown): number => {
    const number = typeof value === 'bigint' ? Number(value) : value
    if (typeof number !== 'number' || !Number.isSafeInteger(number))
      throw new UnprintableValue(
        `'${operator}' on ${typeof value === 'string' ? 'a string' : pythonReprSafe(value)}; the runner computes '${operator}' on integers only (Python formats strings with %)`,
      )
    return number
  }
  return [toInteger(left), toInteger(right)]
}

function pythonReprSafe(value: unknown): string {
  try {
    return pythonRepr(value)
  } catch {
    return typeof value
  }
}

/** For messages: an UnprintableValue with the template named, as the one-line INPUT error of the runner. */
export function unprintable(what: string, error: UnprintableValue): EtlError {
  return new EtlError(
    'INPUT',
    `${what} renders ${error.message} (calltouch-etl transform renders values as Jinja2 does or refuses them)`,
  )
}

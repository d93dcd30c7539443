/**
 * Where a body's records are in its text, found without parsing them.
 *
 * Used when PostgreSQL refused a body (warehouse/record-isolation.ts): the body is split into its
 * records' texts, so that each can be offered to PostgreSQL alone and the one it refuses set
 * aside. The texts are cut out of the body as received, never parsed and re-serialized: a custom
 * value of 38 digits must never pass through a JavaScript number, and a number or escape
 * PostgreSQL refuses must reach `etl.rejected_records` as the API sent it.
 *
 * The scanner expects text that is valid JSON (the caller has checked it with jsonProblem): it
 * follows strings and brackets only, and leaves validating the values to PostgreSQL.
 */
import { messageOf } from './errors.ts'

/** A part of a text: `text.slice(start, end)`. */
export interface TextSpan {
  readonly start: number
  readonly end: number
}

/** A member of a JSON object: its key decoded, its value as a span of the text. */
export interface JsonMember {
  readonly key: string
  readonly value: TextSpan
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d

/**
 * Why a text is not valid JSON (JSON.parse's message), or undefined when it is: tells a body cut
 * short apart from one PostgreSQL refuses, in the same words on both engines. Only on the failure
 * path, as it parses the whole text.
 */
export function jsonProblem(text: string): string | undefined {
  try {
    JSON.parse(text)
    return undefined
  } catch (error) {
    return messageOf(error)
  }
}

/**
 * The spans of the elements of the page's top-level `records` array, in order; undefined when
 * the page is not an object with such an array. When the key comes twice, the last one counts,
 * as in PostgreSQL's jsonb.
 *
 * @example
 * recordSpans('{"page":1,"records":[{"a":1e400000},2]}') // [{ start: 21, end: 35 }, { start: 36, end: 37 }]: the texts {"a":1e400000} and 2
 */
export function recordSpans(page: string): TextSpan[] | undefined {
  const members = objectMembers(page, { start: 0, end: page.length })
  const records = members?.filter((member) => member.key === 'records').at(-1)
  return records === undefined ? undefined : arrayElements(page, records.value)
}

/**
 * The spans of the elements of `text` when it is a JSON array (a bare array of records), in
 * order; undefined when it is not one.
 *
 * @example
 * elementSpans('[{"a":1},2]') // [{ start: 1, end: 8 }, { start: 9, end: 10 }]
 */
export function elementSpans(text: string): TextSpan[] | undefined {
  return arrayElements(text, { start: 0, end: text.length })
}

/**
 * How deeply the arrays and objects of `span` of `text` nest: 0 for a scalar, 1 for `[]` or
 * `{"a":1}`, 2 for `[[1]]`… Brackets inside strings do not count. One pass, no stack of calls.
 *
 * @example
 * nestingDepth('{"a":[1,{"b":"]"}]}', { start: 0, end: 19 }) // 3
 */
export function nestingDepth(text: string, span: TextSpan): number {
  let depth = 0
  let deepest = 0
  for (let at = span.start; at < span.end; at++) {
    const code = text.charCodeAt(at)
    if (code === QUOTE) {
      const end = stringEnd(text, at)
      if (end < 0) break
      at = end - 1
    } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      depth++
      if (depth > deepest) deepest = depth
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      depth--
    }
  }
  return deepest
}

/** The members of the JSON object that `span` of `text` holds, in order; undefined when it holds no object. */
export function objectMembers(text: string, span: TextSpan): JsonMember[] | undefined {
  const members: JsonMember[] = []
  const complete = eachItem(text, span, OPEN_OBJECT, CLOSE_OBJECT, (start) => {
    if (text.charCodeAt(start) !== QUOTE) return -1
    const keyEnd = stringEnd(text, start)
    if (keyEnd < 0) return -1
    const colon = skipSpace(text, keyEnd)
    if (text.charCodeAt(colon) !== COLON) return -1
    const valueStart = skipSpace(text, colon + 1)
    const valueEnd = valueEndAt(text, valueStart)
    if (valueEnd < 0) return -1
    // A key is a string literal: JSON.parse decodes its escapes, and no number is involved.
    members.push({ key: JSON.parse(text.slice(start, keyEnd)) as string, value: { start: valueStart, end: valueEnd } })
    return valueEnd
  })
  return complete ? members : undefined
}

/** The spans of the elements of the JSON array that `span` of `text` holds; undefined when it holds no array. */
function arrayElements(text: string, span: TextSpan): TextSpan[] | undefined {
  const elements: TextSpan[] = []
  const complete = eachItem(text, span, OPEN_ARRAY, CLOSE_ARRAY, (start) => {
    const end = valueEndAt(text, start)
    if (end >= 0) elements.push({ start, end })
    return end
  })
  return complete ? elements : undefined
}

/**
 * Reads the items of the object or array (`open` … `close`) that `span` of `text` holds:
 * `item(start)` reads the one starting there and returns where it ends, or -1. Whether the
 * container was read to its end, within the span.
 */
function eachItem(text: string, span: TextSpan, open: number, close: number, item: (start: number) => number): boolean {
  let at = skipSpace(text, span.start)
  if (text.charCodeAt(at) !== open) return false
  at = skipSpace(text, at + 1)
  if (text.charCodeAt(at) === close) return at < span.end
  for (;;) {
    const end = item(at)
    if (end < 0 || end > span.end) return false
    at = skipSpace(text, end)
    const next = text.charCodeAt(at)
    if (next === close) return at < span.end
    if (next !== COMMA) return false
    at = skipSpace(text, at + 1)
  }
}

/**
 * Where the JSON value starting at `start` ends, or -1. Objects and arrays are followed by
 * counting brackets outside strings, without a stack of calls, so a deeply nested value cannot
 * overflow it; a scalar (number, true, false, null) runs to the next delimiter, unread.
 */
function valueEndAt(text: string, start: number): number {
  const first = text.charCodeAt(start)
  if (first === QUOTE) return stringEnd(text, start)
  if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
    let depth = 0
    for (let at = start; at < text.length; at++) {
      const code = text.charCodeAt(at)
      if (code === QUOTE) {
        const end = stringEnd(text, at)
        if (end < 0) return -1
        at = end - 1
      } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
        depth++
      } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
        depth--
        if (depth === 0) return at + 1
      }
    }
    return -1
  }
  let at = start
  while (at < text.length && !isDelimiter(text.charCodeAt(at))) at++
  return at > start ? at : -1
}

/** Where the string literal starting at `start` (its opening quote) ends, after its closing quote, or -1. */
function stringEnd(text: string, start: number): number {
  for (let at = start + 1; at < text.length; at++) {
    const code = text.charCodeAt(at)
    if (code === BACKSLASH) at++
    else if (code === QUOTE) return at + 1
  }
  return -1
}

function skipSpace(text: string, start: number): number {
  let at = start
  while (at < text.length && isSpace(text.charCodeAt(at))) at++
  return at
}

/** JSON's whitespace: space, tab, line feed, carriage return. */
function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d
}

function isDelimiter(code: number): boolean {
  return isSpace(code) || code === COMMA || code === CLOSE_OBJECT || code === CLOSE_ARRAY || code === COLON
}

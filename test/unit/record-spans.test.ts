import { describe, expect, it } from 'vitest'
import { elementSpans, nestingDepth, objectMembers, recordSpans } from '../../pipelines/core/record-spans.ts'

/** The texts of a page's records, as recordSpans cuts them out. */
function recordTexts(page: string): string[] | undefined {
  return recordSpans(page)?.map((span) => page.slice(span.start, span.end))
}

describe('finding the records of a page in its text', () => {
  it('cuts out each record exactly as received, numbers no JavaScript number can hold included', () => {
    const records = [
      '{"orderNumber":"A","custom":{"max":99999999999999999999999999999999999999}}',
      '{"plannedAmount":1e400000}',
      '{"manager":"bad \\ud800"}',
      '42',
      'null',
    ]
    expect(recordTexts(`{"page":1,"pageTotal":1,"records":[${records.join(',')}],"recordsTotal":5}`)).toEqual(records)
  })

  it('follows whitespace, escaped quotes and brackets inside strings, and nested values', () => {
    const page = ' {\n "records" : [ "a\\"],{" ,\t{"x":[[1,{"y":"]"}]]} , -0.5e-3 ] } '
    expect(recordTexts(page)).toEqual(['"a\\"],{"', '{"x":[[1,{"y":"]"}]]}', '-0.5e-3'])
  })

  it('takes the last "records" member, escaped key names decoded, as PostgreSQL\'s jsonb does', () => {
    expect(recordTexts('{"records":[1],"rec\\u006frds":[2,3]}')).toEqual(['2', '3'])
    expect(recordTexts('{"records":[]}')).toEqual([])
  })

  it('finds nothing in a page that is not an object with a records list', () => {
    expect(recordTexts('[{"records":[1]}]')).toBeUndefined()
    expect(recordTexts('{"records":{"a":1}}')).toBeUndefined()
    expect(recordTexts('{"message":"Forbidden"}')).toBeUndefined()
    expect(recordTexts('{"records":[1,2')).toBeUndefined()
  })

  it("lists an object's members with their values as spans of the text", () => {
    const text = '[{"orderNumber": 12345678901234567890 , "orderDate":"01/03/2026"}]'
    const members = objectMembers(text, { start: 1, end: text.length - 1 })
    expect(members?.map((member) => [member.key, text.slice(member.value.start, member.value.end)])).toEqual([
      ['orderNumber', '12345678901234567890'],
      ['orderDate', '"01/03/2026"'],
    ])
    expect(objectMembers('"text"', { start: 0, end: 6 })).toBeUndefined()
  })

  it('cuts out the elements of a bare array, and finds none in what is not one', () => {
    const text = '[ {"callId":1,"x":[1,"]"]} ,1e400000,"\\ud800"]'
    expect(elementSpans(text)?.map((span) => text.slice(span.start, span.end))).toEqual([
      '{"callId":1,"x":[1,"]"]}',
      '1e400000',
      '"\\ud800"',
    ])
    expect(elementSpans('[]')).toEqual([])
    expect(elementSpans('{"records":[1]}')).toBeUndefined()
    expect(elementSpans('[1,2')).toBeUndefined()
  })

  it('measures how deeply arrays and objects nest, brackets inside strings left out', () => {
    const depth = (text: string): number => nestingDepth(text, { start: 0, end: text.length })
    expect([depth('1'), depth('"[[["'), depth('[]'), depth('{"a":[1,{"b":"]}"}]}'), depth('[[],[[]],{}]')]).toEqual([
      0, 0, 1, 3, 3,
    ])
    expect(depth('['.repeat(100_000) + ']'.repeat(100_000))).toBe(100_000)
  })
})

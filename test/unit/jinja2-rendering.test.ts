import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { EtlError } from '../../pipelines/core/errors.ts'
import { loadDbtProject } from '../../pipelines/transform/dbt-project.ts'
import { checkTemplate, renderTemplate, type TemplateFunctions } from '../../pipelines/transform/jinja-subset.ts'

const functions: TemplateFunctions = {
  ref: (name) => name,
  source: (sourceName, tableName) => `${sourceName}.${tableName}`,
  config: () => {},
  var: (name) => ({ flag: true, items: ['a', 1n], empty: [] })[name],
  this: undefined,
}

const render = (template: string): string => {
  checkTemplate(template, 'model m', new Set())
  return renderTemplate(template, 'model m', [], functions)
}

function errorOf(call: () => unknown): EtlError {
  try {
    call()
  } catch (error) {
    if (error instanceof EtlError) return error
    throw error
  }
  throw new Error('expected an EtlError')
}

/** Each template with what Jinja2 3.1.6 (the dbt pinned in dbt/requirements.txt) renders for it. */
describe('the runner renders values as Jinja2 does', () => {
  it.each([
    ['{{ true }}|{{ false }}|{{ none }}', 'True|False|None'],
    ["{{ [1, 'a', true, none] }}", "[1, 'a', True, None]"],
    ["{{ {'k': 'v', 'n': [1, 2]} }}", "{'k': 'v', 'n': [1, 2]}"],
    ['{{ -7 % 3 }}|{{ 7 % -3 }}|{{ -7 // 2 }}|{{ 7 // 2 }}', '2|-2|-4|3'],
    ["{{ 'a' ~ true ~ 1 ~ none ~ [1] }}", 'aTrue1None[1]'],
    ["{{ 2 ** 10 }}|{{ 3 - 5 }}|{{ 'ab' * 2 }}|{{ [1] + [2] }}|{{ 'x' + 'y' }}", '1024|-2|abab|[1, 2]|xy'],
    ['{% if [] %}list{% else %}empty{% endif %}|{% if {} %}d{% else %}nd{% endif %}|{{ 1 if 0 else 2 }}', 'empty|nd|2'],
    [
      "{{ 1 == '1' }}|{{ [1, 2] == [1, 2] }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 'a' < 'b' }}",
      'False|True|True|False|True',
    ],
    ["{{ [] or 'fallback' }}|{{ 'x' and 'y' }}|{{ not [] }}|{{ -(3) }}", 'fallback|y|True|-3'],
    [
      `{{ "it's" }}|{{ ["it's", 'say "hi"', 'back\\\\slash', 'new\\nline'] }}`,
      `it's|["it's", 'say "hi"', 'back\\\\slash', 'new\\nline']`,
    ],
    [
      "{% set xs = ['a', 'b'] %}{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
      '1a,2b',
    ],
    ['{% macro m(x, y=1) %}{{ x + y }}{% endmacro %}{{ m(1) }}|{{ m(2, y=5) }}|{{ [m(1)] }}', "2|7|['2']"],
    [
      "{{ var('flag') }}|{{ var('items') }}|{{ var('items')[1] + 1 }}|{% if var('empty') %}x{% endif %}",
      "True|['a', 1]|2|",
    ],
  ])('%s', (template, jinja2) => {
    expect(render(template)).toBe(jinja2)
  })
})

describe('the runner refuses what it cannot render as Jinja2 does', () => {
  it.each([
    ['{{ 1.0 }}', 'model m uses the float literal 1.0 (Jinja2 prints 1.0 where JavaScript prints 1) (line 1)'],
    [
      'select 1\n{{ 6 / 2 }}',
      "model m uses '/' (Jinja2's division gives a float: 6 / 2 renders 3.0; use // for integers) (line 2)",
    ],
  ])('%s, naming the model and the line', (template, start) => {
    const error = errorOf(() => checkTemplate(template, 'model m', new Set()))
    expect(error.code).toBe('INPUT')
    expect(error.message.startsWith(start)).toBe(true)
    expect(error.message).not.toContain('\n')
  })

  it.each([
    ["{{ 'a' + 1 }}", "model m renders 'a' + 1, which Jinja2 refuses or computes unlike JavaScript"],
    ["{{ 1 < 'a' }}", "model m renders 1 < 'a', which Jinja2 refuses"],
    ['{{ 7 % 0 }}', 'model m renders a modulo by zero, which Jinja2 refuses (ZeroDivisionError)'],
    ["{{ '%s' % 1 }}", "model m renders '%' on a string; the runner computes '%' on integers only"],
    ['{{ 2 ** -1 }}', 'model m renders 2 ** -1, a float in Python'],
    ['{{ 2 ** 60 }}', 'model m renders 2 ** 60 = 1152921504606847000, beyond the integers the runner computes exactly'],
  ])('%s at render time, in one line', (template, start) => {
    const error = errorOf(() => render(template))
    expect(error.code).toBe('INPUT')
    expect(error.message.startsWith(start)).toBe(true)
    expect(error.message).not.toContain('\n')
  })
})

describe('vars the runner cannot print as Jinja2 does', () => {
  it('refuses a float in dbt_project.yml, naming the file and the var', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jinja2-vars-'))
    try {
      mkdirSync(join(dir, 'models'))
      writeFileSync(join(dir, 'dbt_project.yml'), "name: p\nvars:\n  share: 1.0\n  days: [7, 0.5]\n  label: '1.0'\n")
      expect(errorOf(() => loadDbtProject(dir)).message).toBe(
        'dbt project file dbt_project.yml: vars.share is the float 1, which Jinja2 prints unlike calltouch-etl transform (1.0 stays 1.0); quote it as a string or use an integer',
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

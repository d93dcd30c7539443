import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import { EtlError } from '../../pipelines/core/errors.ts'
import { compileProject, orderModels } from '../../pipelines/transform/compile-project.ts'
import { loadDbtProject, type DbtProject, type ModelNode } from '../../pipelines/transform/dbt-project.ts'
import { lineageHashes } from '../../pipelines/transform/build-model.ts'
import { checkTemplate } from '../../pipelines/transform/jinja-subset.ts'
import { dataTestName, dataTestSql } from '../../pipelines/transform/project-tests.ts'
import { parseVars } from '../../pipelines/cli/commands/transform.ts'

const SUPPORTED = "ref, source, config, var, is_incremental, this and the project's macros"
const refusal = (what: string, construct: string, line: number): string =>
  `${what} uses ${construct} (line ${line}), which calltouch-etl transform does not support (it renders ${SUPPORTED}); rewrite it in plain SQL or run the project with real dbt`

function model(name: string, sql: string, materialized = 'view'): ModelNode {
  return { name, file: `models/${name}.sql`, sql, description: undefined, columns: [], config: { materialized } }
}

function project(models: ModelNode[], extra: Partial<DbtProject> = {}): DbtProject {
  return {
    dir: '/nowhere',
    name: 'demo',
    vars: { revenue_date: 'order_day' },
    models,
    sources: [{ sourceName: 'calltouch', tableName: 'orders', schema: 'calltouch', identifier: 'orders' }],
    macroFiles: [
      {
        file: 'macros/key.sql',
        text: "{% macro key(value, fallback='') -%}lower({{ value }}){% if fallback %} or {{ fallback }}{% endif %}{%- endmacro %}",
      },
    ],
    dataTests: [],
    singularTests: [],
    unitTests: [],
    ...extra,
  }
}

function errorOf(run: () => unknown): EtlError {
  try {
    run()
  } catch (error) {
    if (error instanceof EtlError) return error
    throw error
  }
  throw new Error('expected an EtlError')
}

describe('the Jinja subset', () => {
  it('renders ref, source, var with its default, config, this, is_incremental and project macros the way dbt would', () => {
    const compiled = compileProject(
      project([
        model(
          'stg_orders',
          "{{ config(materialized='table') }}select {{ key('status', 'manager') }} as k, '{{ var('revenue_date') }}' as d, '{{ var('missing', 'fallback') }}' as f from {{ source('calltouch', 'orders') }}",
        ),
        model(
          'fct_orders',
          "select * from {{ ref('stg_orders') }} where {{ this.schema }} = 'x'{% if is_incremental() %} and false{% endif %} -- {{ this }}",
        ),
      ]),
    )
    expect(
      compiled.models.map((m) => [m.node.name, m.materialized, m.relation.toString(), m.dependsOn, m.sql]),
    ).toEqual([
      [
        'stg_orders',
        'table',
        '"analytics"."stg_orders"',
        [],
        `select lower(status) or manager as k, 'order_day' as d, 'fallback' as f from "calltouch"."orders"`,
      ],
      [
        'fct_orders',
        'view',
        '"analytics"."fct_orders"',
        ['stg_orders'],
        `select * from "analytics"."stg_orders" where analytics = 'x' -- "analytics"."fct_orders"`,
      ],
    ])
  })

  it('takes --vars over the defaults of dbt_project.yml, and puts a custom schema after the target schema as dbt does', () => {
    const compiled = compileProject(
      project([model('m', "{{ config(schema='finance', alias='money') }}select '{{ var('revenue_date') }}' as d")]),
      { vars: { revenue_date: 'completed_date' } },
    )
    expect(compiled.models.map((m) => [m.relation.toString(), m.sql])).toEqual([
      ['"analytics_finance"."money"', "select 'completed_date' as d"],
    ])
  })

  it.each([
    ['{{ status | upper }}', 'a filter', 1],
    ["select 1\n{% include 'other.sql' %}", '{% include %}', 2],
    ["{% import 'm.sql' as m %}", '{% import %}', 1],
    ["{% from 'm.sql' import x %}", '{% from ... import %}', 1],
    ["{% extends 'base.sql' %}", '{% extends %}', 1],
    ['{% call key() %}x{% endcall %}', '{% call %}', 1],
    ['{% do x.append(1) %}', '{% do %}', 1],
    ['{% if x is none %}1{% endif %}', "an 'is' test", 1],
    ["select * from {{ adapter.get_relation('a', 'b') }}", "'adapter'", 1],
    ["{% set rows = run_query('select 1') %}", "'run_query'", 1],
    ["select '{{ env_var('DATABASE_URL') }}'", "'env_var'", 1],
    ["select {{ dbt_utils.star(ref('x')) }}", "'dbt_utils'", 1],
  ])('refuses %s naming the model and the construct', (template, construct, line) => {
    const error = errorOf(() => checkTemplate(template, 'model fct_x', new Set(['key'])))
    expect(error.code).toBe('INPUT')
    expect(error.message).toBe(refusal('model fct_x', construct, line))
  })

  it('accepts plain template logic: set, for, if, macros, literals, ~ and loop', () => {
    expect(() =>
      checkTemplate(
        "{% set cols = ['a', 'b'] %}{% for c in cols %}{{ c ~ '_x' }}{% if not loop.last %},{% endif %}{% endfor %}{% macro m(x, y=1) %}{{ x + y }}{% endmacro %}{{ m(1) }}",
        'model m',
        new Set(),
      ),
    ).not.toThrow()
  })

  it('refuses a materialization it does not know, an incremental model it cannot merge, and a config it cannot honour', () => {
    expect(
      errorOf(() => compileProject(project([model('m', "{{ config(materialized='snapshot') }}select 1")]))).message,
    ).toBe(
      "model m is materialized as 'snapshot', which calltouch-etl transform does not support (only view, table, incremental); run the project with real dbt or change its materialization",
    )
    expect(
      errorOf(() => compileProject(project([model('m', "{{ config(materialized='incremental') }}select 1")]))).message,
    ).toBe(
      "model m is incremental without an incremental_strategy and no unique_key, which calltouch-etl transform does not support (only incremental_strategy='delete+insert' with a unique_key); run the project with real dbt or change its config",
    )
    expect(
      errorOf(() =>
        compileProject(
          project([
            model(
              'm',
              "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}select 1",
            ),
          ]),
        ),
      ).message,
    ).toBe(
      "model m is incremental with incremental_strategy 'merge', which calltouch-etl transform does not support (only incremental_strategy='delete+insert' with a unique_key); run the project with real dbt or change its config",
    )
    expect(
      errorOf(() =>
        compileProject(project([model('m', "{{ config(pre_hook='grant select on {{ this }} to x') }}select 1")])),
      ).message,
    ).toBe(
      'model m sets config pre_hook, which calltouch-etl transform does not support (supported: materialized, schema, alias, tags, persist_docs, unique_key, incremental_strategy, post_hook, indexes); run the project with real dbt or remove it',
    )
  })

  it("reads dbt-postgres' indexes, with Jinja2's True, and refuses what it cannot create", () => {
    const compiled = compileProject(
      project([
        model(
          'm',
          "{{ config(materialized='table', indexes=[{'columns': ['a'], 'unique': True}, {'columns': ['b', '(lower(c))'], 'type': 'btree'}]) }}select 1 as a",
        ),
        model('v', "{{ config(indexes=[{'columns': ['a']}]) }}select 1 as a"),
      ]),
    )
    expect(compiled.models.map((m) => [m.node.name, m.indexes])).toEqual([
      [
        'm',
        [
          { columns: ['a'], unique: true, type: undefined },
          { columns: ['b', '(lower(c))'], unique: false, type: 'btree' },
        ],
      ],
      // A view has no indexes (dbt creates them on tables only).
      ['v', []],
    ])
    expect(
      errorOf(() => compileProject(project([model('m', "{{ config(indexes=[{'column': 'a'}]) }}select 1")]))).message,
    ).toBe(
      "model m sets indexes with column, which calltouch-etl transform does not support; write indexes=[{'columns': ['a', 'b'], 'unique': True}]",
    )
    expect(
      errorOf(() => compileProject(project([model('m', "{{ config(indexes=[{'columns': []}]) }}select 1")]))).message,
    ).toBe(
      "model m sets indexes with an entry without a list of columns; write indexes=[{'columns': ['a', 'b'], 'unique': True}]",
    )
    expect(
      errorOf(() =>
        compileProject(
          project([model('m', "{{ config(indexes=[{'columns': ['a'], 'type': 'gin; drop'}]) }}select 1")]),
        ),
      ).message,
    ).toBe(
      "model m sets indexes with a type that is not an index method name; write indexes=[{'columns': ['a', 'b'], 'unique': True}]",
    )
  })

  it('prints True, False and None as Jinja2 does, as constants', () => {
    const compiled = compileProject(
      project([model('m', "select '{{ True }} {{ False }} {{ None }} {{ [True, None] }}'")]),
    )
    expect(compiled.models[0]?.sql).toBe("select 'True False None [True, None]'")
  })

  it('refuses a ref made only inside is_incremental(), as dbt cannot infer it, and names the depends_on hint', () => {
    const incremental = (sql: string): ModelNode =>
      model('m', `{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='a') }}${sql}`)
    expect(
      errorOf(() =>
        compileProject(
          project([
            model('a', 'select 1 as a'),
            incremental("select 1 as a{% if is_incremental() %} where a in (select a from {{ ref('a') }}){% endif %}"),
          ]),
        ),
      ).message,
    ).toBe(
      "model m refers to a only inside {% if is_incremental() %}, which real dbt cannot infer; add -- depends_on: {{ ref('a') }} at the top of the model",
    )
    const compiled = compileProject(
      project([
        model('a', 'select 1 as a'),
        incremental(
          "-- depends_on: {{ ref('a') }}\nselect 1 as a{% if is_incremental() %} where a in (select a from {{ ref('a') }}){% endif %}",
        ),
      ]),
    )
    expect(compiled.models.map((m) => [m.node.name, m.dependsOn])).toEqual([
      ['a', []],
      ['m', ['a']],
    ])
  })

  it('refuses a unit test of an incremental model that does not say which build, or says incremental without this', () => {
    const models = [
      model(
        'm',
        "{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='a') }}select 1 as a",
      ),
    ]
    const unitTest = (extra: object) => ({
      name: 't',
      model: 'm',
      given: [],
      expect: [],
      vars: {},
      isIncremental: undefined,
      ...extra,
    })
    expect(errorOf(() => compileProject(project(models, { unitTests: [unitTest({})] }))).message).toBe(
      'unit test t tests the incremental model m without saying which build: add overrides: {macros: {is_incremental: false}} (or true, with rows for input: this), as dbt requires',
    )
    expect(
      errorOf(() => compileProject(project(models, { unitTests: [unitTest({ isIncremental: true })] }))).message,
    ).toBe(
      'unit test t overrides is_incremental with true for model m but gives no rows for input: this, as dbt requires',
    )
    expect(
      compileProject(
        project(models, { unitTests: [unitTest({ isIncremental: true, given: [{ input: 'this', rows: [] }] })] }),
      ).models.length,
    ).toBe(1)
  })

  it('renders an incremental model twice: whole with is_incremental() false, the batch with it true and this', () => {
    const compiled = compileProject(
      project([
        model(
          'm',
          "{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['a', 'b'], post_hook='delete from {{ this }} where a is null') }}select 1 as a, 2 as b{% if is_incremental() %} where 1 > (select count(*) from {{ this }}){% endif %}",
        ),
      ]),
    )
    const built = compiled.models[0]
    expect(built?.sql).toBe('select 1 as a, 2 as b')
    expect(built?.incremental).toEqual({
      sql: 'select 1 as a, 2 as b where 1 > (select count(*) from "analytics"."m")',
      uniqueKey: ['a', 'b'],
    })
    expect(built?.postHooks).toEqual(['delete from "analytics"."m" where a is null'])
  })

  it('names an unknown ref, an undeclared source and a var without a value', () => {
    expect(errorOf(() => compileProject(project([model('m', "select * from {{ ref('nope') }}")]))).message).toBe(
      "model m refers to ref('nope'), which is not a model of the project",
    )
    expect(
      errorOf(() => compileProject(project([model('m', "select * from {{ source('crm', 'deals') }}")]))).message,
    ).toBe("model m refers to source('crm', 'deals'), which no sources: block of the project declares")
    expect(errorOf(() => compileProject(project([model('m', "select {{ var('nope') }}")]))).message).toBe(
      "model m uses var('nope'), which has no value: declare it under vars: in dbt_project.yml or pass it with --vars",
    )
  })
})

describe('what an incremental table is built from', () => {
  it('hashes each model with every model it reads, so a change above an incremental model (a view, a var) changes its hash', () => {
    const build = (aSql: string, bSql: string) =>
      lineageHashes(
        compileProject(
          project([
            model('a', aSql),
            model(
              'b',
              `{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='x') }}${bSql}`,
            ),
            model('c', 'select 3 as x'),
          ]),
        ).models,
      )
    const first = build('select 1 as x', "select * from {{ ref('a') }}")
    const viewChanged = build('select 2 as x', "select * from {{ ref('a') }}")
    const modelChanged = build('select 1 as x', "select * from {{ ref('a') }} where x > 0")
    expect([first.get('a') === viewChanged.get('a'), first.get('b') === viewChanged.get('b')]).toEqual([false, false])
    expect([first.get('a') === modelChanged.get('a'), first.get('b') === modelChanged.get('b')]).toEqual([true, false])
    expect(first.get('c')).toBe(viewChanged.get('c'))
  })
})

describe('the build order', () => {
  it('puts every model after the models it refers to, ties by name', () => {
    expect(
      orderModels(
        new Map([
          ['fct_b', ['int_a', 'stg_z']],
          ['int_a', ['stg_y']],
          ['stg_z', []],
          ['stg_y', []],
          ['fct_a', ['stg_y']],
        ]),
      ),
    ).toEqual(['stg_y', 'fct_a', 'int_a', 'stg_z', 'fct_b'])
  })

  it('refuses a cycle and shows its path', () => {
    expect(
      errorOf(() =>
        orderModels(
          new Map([
            ['a', ['b']],
            ['b', ['c']],
            ['c', ['a']],
            ['d', []],
          ]),
        ),
      ).message,
    ).toBe('the models refer to each other in a cycle: a -> b -> c -> a; a model cannot depend on itself through ref()')
    expect(errorOf(() => compileProject(project([model('a', "select * from {{ ref('a') }}")]))).message).toBe(
      'the models refer to each other in a cycle: a -> a; a model cannot depend on itself through ref()',
    )
  })
})

describe('generic data tests', () => {
  const compiled = compileProject(
    project([model('fct_deals', 'select 1 as deal_key'), model('fct_values', 'select 1 as deal_key')]),
  )

  it('are named as dbt names them and compile to the rows that break them', () => {
    const spec = { model: 'fct_values', columnName: 'deal_key', customName: undefined, where: undefined }
    expect(dataTestName({ ...spec, test: 'not_null', args: {} })).toBe('not_null_fct_values_deal_key')
    expect(dataTestSql({ ...spec, test: 'not_null', args: {} }, compiled)).toBe(
      'select deal_key from "analytics"."fct_values" where deal_key is null',
    )
    expect(dataTestName({ ...spec, test: 'accepted_values', args: { values: ['CALL', 'REQUEST'] } })).toBe(
      'accepted_values_fct_values_deal_key__CALL__REQUEST',
    )
    expect(
      dataTestSql(
        { ...spec, test: 'accepted_values', args: { values: ['CALL', "it's"] }, where: 'deal_key > 0' },
        compiled,
      ),
    ).toBe(
      `select deal_key as value_field, count(*) as n_records from (select * from "analytics"."fct_values" where deal_key > 0) dbt_subquery group by deal_key having deal_key not in ('CALL', 'it''s')`,
    )
    expect(dataTestName({ ...spec, test: 'relationships', args: { to: "ref('fct_deals')", field: 'deal_key' } })).toBe(
      'relationships_fct_values_deal_key__deal_key__ref_fct_deals_',
    )
    expect(dataTestName({ ...spec, test: 'accepted_values', args: { values: [1, 'a b', true], quote: false } })).toBe(
      'accepted_values_fct_values_deal_key__False__1__a_b__True',
    )
    expect(
      dataTestSql(
        { ...spec, test: 'relationships', args: { to: "ref('fct_deals')", field: 'deal_key' } },
        compiled,
      ).replace(/\s+/g, ' '),
    ).toBe(
      'select child.from_field from (select deal_key as from_field from "analytics"."fct_values" where deal_key is not null) child left join (select deal_key as to_field from "analytics"."fct_deals") parent on parent.to_field = child.from_field where parent.to_field is null',
    )
    expect(dataTestName({ ...spec, test: 'unique', columnName: "a || '|' || b", args: {} })).toBe(
      'unique_fct_values_a_b',
    )
    expect(dataTestName({ ...spec, test: 'unique', customName: 'unique_grain', args: {} })).toBe('unique_grain')
  })
})

describe('the project in dbt/', () => {
  it('reads its models, sources, tests and configs, every one inside the supported subset', () => {
    const dbt = loadDbtProject()
    const compiled = compileProject(dbt)
    expect(compiled.models.map((m) => `${m.materialized} ${m.relation.identifier}`)).toEqual([
      'view stg_marketing__ad_accounts',
      'view stg_marketing__ad_campaign_names',
      'view stg_marketing__ad_campaign_stats',
      'view int_ad_campaigns_named',
      'view stg_etl__ledger',
      'view stg_marketing__ad_spend',
      'view int_ad_spend_unioned',
      'view stg_calltouch__orders',
      'view stg_calltouch__visits',
      'view int_deals_attributed',
      'view stg_calltouch__calls',
      'view stg_calltouch__requests',
      'incremental int_leads',
      'view stg_calltouch__sources',
      'incremental int_deals_linked_to_leads',
      'view stg_calltouch__custom_fields',
      'view stg_calltouch__tags',
      'incremental fct_deals',
      'table int_deals_matched_to_campaigns',
      'table fct_campaign_daily',
      'incremental fct_deal_custom_values',
      'incremental int_lead_deals',
      'view stg_calltouch__call_tags',
      'view stg_calltouch__request_tags',
      'incremental fct_leads',
      'incremental fct_funnel_daily',
      'table fct_funnel_monthly',
      'incremental fct_marketing_daily',
      'table fct_marketing_monthly',
      'incremental fct_manager_channel_monthly',
    ])
    expect(
      compiled.models.every(
        (m) =>
          m.relation.schema === (m.node.file.startsWith('models/marts/') ? 'analytics' : 'analytics_staging') &&
          m.persistDocs.relation &&
          m.persistDocs.columns,
      ),
    ).toBe(true)
    expect(dbt.vars).toEqual({ revenue_date: 'order_day' })
    expect(dbt.singularTests.map((test) => test.name)).toEqual([
      'assert_campaign_daily_spend_adds_up_to_connector_spend',
      'assert_funnel_leads_add_up_to_calls_and_requests',
      'assert_funnel_money_matches_marketing_daily',
      'assert_funnel_monthly_adds_up_to_daily',
      'assert_marketing_daily_revenue_adds_up_to_orders',
      'assert_marketing_daily_spend_adds_up_to_unioned_spend',
      'assert_monthly_marts_add_up_to_daily',
      'assert_profit_and_roi_follow_their_definitions',
      'assert_unioned_spend_is_csv_not_overridden_plus_connector_spend',
    ])
    expect(dbt.unitTests.map((test) => test.model)).toEqual([
      'int_deals_attributed',
      'int_deals_attributed',
      'int_ad_spend_unioned',
      'int_ad_spend_unioned',
      'int_ad_campaigns_named',
      'int_deals_matched_to_campaigns',
      'int_deals_linked_to_leads',
      'int_lead_deals',
      'fct_marketing_daily',
      'fct_marketing_daily',
      'fct_marketing_daily',
      'fct_marketing_monthly',
      'fct_manager_channel_monthly',
      'fct_campaign_daily',
      'fct_funnel_daily',
      'fct_funnel_monthly',
      'fct_leads',
    ])
  })

  it('describes every column of every mart, and tests the grain of every mart', () => {
    const dbt = loadDbtProject()
    const marts = dbt.models.filter((m) => m.file.startsWith('models/marts/'))
    for (const mart of marts) {
      expect(mart.description?.length ?? 0, mart.name).toBeGreaterThan(100)
      expect(
        mart.columns.filter((column) => !column.description),
        mart.name,
      ).toEqual([])
    }
    const grainTests = dbt.dataTests
      .filter((test) => test.test === 'unique')
      .map((test) => test.model)
      .sort()
    expect(grainTests).toEqual([
      'fct_campaign_daily',
      'fct_deal_custom_values',
      'fct_deals',
      'fct_funnel_daily',
      'fct_funnel_monthly',
      'fct_leads',
      'fct_manager_channel_monthly',
      'fct_marketing_daily',
      'fct_marketing_monthly',
      'int_ad_campaigns_named',
      'int_ad_spend_unioned',
      'int_deals_linked_to_leads',
      'int_deals_matched_to_campaigns',
      'int_lead_deals',
      'int_leads',
    ])
  })
})

describe('--vars', () => {
  it('takes a YAML or JSON mapping of declared vars', () => {
    expect(parseVars('{revenue_date: completed_date}', ['revenue_date'])).toEqual({ revenue_date: 'completed_date' })
    expect(parseVars('{"revenue_date": "order_day"}', ['revenue_date'])).toEqual({ revenue_date: 'order_day' })
    expect(parseVars(undefined, ['revenue_date'])).toEqual({})
  })

  it('refuses what is not a mapping, an undeclared var and an unknown revenue date, saying what is allowed', () => {
    expect(errorOf(() => parseVars('completed_date', ['revenue_date'])).message).toBe(
      `--vars must be a YAML or JSON mapping, e.g. --vars '{revenue_date: completed_date}' (got "completed_date")`,
    )
    expect(errorOf(() => parseVars('{revenue_day: x}', ['revenue_date'])).message).toBe(
      "--vars names 'revenue_day', which the project does not declare; declared vars: revenue_date",
    )
    expect(errorOf(() => parseVars('{revenue_date: completed}', ['revenue_date'])).message).toBe(
      '--vars revenue_date must be order_day or completed_date (got "completed")',
    )
  })
})

describe('project files', () => {
  const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/transform/${name}/`, import.meta.url))

  it('refuses a generic test the runner does not have, naming the file and the test', () => {
    expect(errorOf(() => loadDbtProject(fixture('unsupported-test-project'))).message).toBe(
      "dbt project file models/schema.yml: numbers uses the data test 'dbt_utils.expression_is_true', which calltouch-etl transform does not support (supported: unique, not_null, accepted_values, relationships); write it as a singular test in tests/ or run the project with real dbt",
    )
  })

  it('refuses a unit test named longer than real dbt can build, naming the file, the test and the limit', () => {
    expect(errorOf(() => loadDbtProject(fixture('long-unit-test-name-project'))).message).toBe(
      "dbt project file models/schema.yml: the unit test name numbers_keeps_every_positive_number_and_drops_nothing_else_at_all is 65 bytes long; real dbt fails names over 63 bytes (PostgreSQL's identifier length): shorten it",
    )
  })

  it('refuses a directory without dbt_project.yml as a usage error', () => {
    const error = errorOf(() => loadDbtProject('/tmp/no-such-dbt-project'))
    expect([error.code, error.message]).toEqual([
      'USAGE',
      'no dbt_project.yml in /tmp/no-such-dbt-project: point --project-dir at a dbt project',
    ])
  })
})

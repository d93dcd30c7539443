/**
 * The incremental marts against a full build over random histories of loads, on both engines:
 * a small warehouse (two sites, ten days across a month's end, a few channels, every deal, call
 * and request of a few ids, CSV spend and a Yandex Direct account's campaign-days), built, then a
 * few loads, each a random mix of what the loaders write, built incrementally after each. After
 * every build the marts of schema analytics equal row by row, every column, those of a
 * `--full-refresh` build of the same warehouse (analytics_full): both read the same load times, so
 * even last_changed_at agrees. And every data and unit test of the project passes.
 *
 * Loads are written as the loaders write them, column for column: a new or changed deal is
 * upserted with last_changed_at, last_seen_at = now() and no removed_from_source_at, its sources,
 * visit, tags and custom values replaced (sql/upsert_changed_orders.sql,
 * delete_changed_children.sql, insert_changed_children.sql); a deal or lead the API no longer
 * returns gets removed_from_source_at = now(), one returned again none and last_seen_at = now()
 * (mark_removed_orders.sql, mark_seen_orders.sql, mark_seen_and_removed_calls.sql); calls and
 * requests as write_changed_calls.sql and write_changed_requests.sql write them; CSV spend by
 * sql/upsert_ad_spend.sql itself (a CSV row deleted by hand); a connector's read of a day by upsert_campaign_stats.sql,
 * delete_vanished_campaign_stats.sql, insert_campaign_names.sql and upsert_loaded_ledger_days.sql.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { CompiledProject } from '../../pipelines/transform/compile-project.ts'
import { buildTransform, compileTransform } from '../../pipelines/transform/run-transform.ts'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import { runSqlFile } from '../../pipelines/warehouse/sql-files.ts'
import { everyModel, FULL_SCHEMA, INCREMENTAL_SCHEMA, martsOf, modesOf } from '../helpers/transform-marts.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

/** How long a failure shrinks (ms): `TRANSFORM_PROPERTY_SHRINK_MS`. */
const SHRINK_MS = Number(process.env.TRANSFORM_PROPERTY_SHRINK_MS ?? 120_000)
/** Random histories per engine, after FOUND_BEFORE; `TRANSFORM_PROPERTY_RUNS` raises it for a long local search. */
const RUNS = Number(process.env.TRANSFORM_PROPERTY_RUNS ?? 6)
/**
 * The same histories on every run; `TRANSFORM_PROPERTY_SEED=random` (or another number) searches
 * new ones. A history that fails that way goes into FOUND_BEFORE.
 */
const SEED =
  process.env.TRANSFORM_PROPERTY_SEED === 'random' ? undefined : Number(process.env.TRANSFORM_PROPERTY_SEED ?? 9)

const SITES = [101, 102] as const
/** Ten days across a month's end, so that a deal can move month as well as day. */
const DAYS = Array.from({ length: 10 }, (_, i) => new Date(Date.UTC(2026, 0, 27 + i)).toISOString().slice(0, 10))
/** utm_source, utm_medium, utm_campaign of a visit or a CSV row; null: no visit (CSV: empty keys). */
const CHANNELS = [
  ['yandex', 'cpc', 'brand'],
  [' Yandex ', 'CPC', 'Brand 2'],
  ['google', 'cpc', 'generic'],
  ['vk', 'social', 'spring'],
  null,
] as const
const CSV_NONE = ['', '(none)', '<не заполнено>'] as const
/** The Yandex Direct account of site 101: campaign names are its deals' utm_campaign. */
const ACCOUNT = { system: 'yandex-direct', login: 'login-101', site: 101 } as const
const CAMPAIGN_NAMES = ['Brand', 'Brand 2', 'Generic'] as const
const REQUEST_NUMBERS = ['R-1', 'R-2', '6001'] as const

type Site = (typeof SITES)[number]
type Source =
  | { readonly kind: 'none' }
  | { readonly kind: 'call'; readonly callId: number }
  | { readonly kind: 'request'; readonly requestNumber: string }
type Journal = 'orders' | 'calls' | 'requests'

/** Deals d0..d2, calls 5000..5001 and requests 6000..6001 on each site: few, so that loads meet the same ones. */
const DEAL_NUMBERS = [0, 1, 2] as const
const CALL_IDS = [5000, 5001] as const
const REQUEST_IDS = [6000, 6001] as const

/** One thing a load does; `day` and `channel` index DAYS and CHANNELS. */
type Op =
  | {
      readonly kind: 'deal'
      readonly site: Site
      readonly deal: number
      readonly day: number
      readonly channel: number
      readonly kopecks: number | null
      readonly completedAfterDays: number | null
      readonly status: 'final' | 'start'
      readonly deleted: boolean
      readonly manager: string | null
      readonly source: Source
      readonly tags: readonly string[]
      readonly customFields: readonly string[]
    }
  | {
      readonly kind: 'call' | 'request'
      readonly site: Site
      readonly id: number
      /** A request's number (two requests may share one); null for a call or a request without one. */
      readonly requestNumber: string | null
      readonly day: number
      readonly channel: number
      readonly unique: boolean
      readonly target: boolean
      readonly tags: readonly string[]
    }
  /**
   * A read of a deal or lead: found gone if the warehouse holds it as returned (removed from the
   * source), returned again if it holds it as gone (only last_seen_at moves).
   */
  | { readonly kind: 'readAgain'; readonly journal: Journal; readonly site: Site; readonly id: number }
  /** A complete read of a day that returned nothing: every deal and lead of the site's day is gone. */
  | { readonly kind: 'dayReadEmpty'; readonly site: Site; readonly day: number }
  /** A nightly that changed nothing: every deal and lead still in the source seen again. */
  | { readonly kind: 'seenAgain' }
  | {
      readonly kind: 'spend'
      readonly site: Site
      readonly day: number
      readonly channel: number
      readonly kopecks: number
    }
  | { readonly kind: 'spendDeleted'; readonly site: Site; readonly day: number; readonly channel: number }
  /** The connector's complete read of a day: these campaign-days, the others of the day deleted. */
  | {
      readonly kind: 'connectorRead'
      readonly day: number
      readonly rows: readonly { readonly campaignId: number; readonly name: string; readonly kopecks: number }[]
    }

interface History {
  /** The warehouse before the first build. */
  readonly initial: readonly Op[]
  /** The loads after it, each followed by a build. */
  readonly loads: readonly (readonly Op[])[]
}

/** Mostly the first site, where the connector is, so that loads meet the same deals and leads. */
const site = fc.oneof(
  { weight: 3, arbitrary: fc.constant(101 as const) },
  { weight: 1, arbitrary: fc.constant(102 as const) },
)
const day = fc.nat({ max: DAYS.length - 1 })
const channel = fc.nat({ max: CHANNELS.length - 1 })
/** Mostly the first of `ids` (over two thirds of the time). */
const mostlyFirst = (ids: readonly number[]): fc.Arbitrary<number> =>
  fc.oneof({ weight: 2, arbitrary: fc.constant(ids[0] as number) }, { weight: 1, arbitrary: fc.constantFrom(...ids) })
/** A request number, mostly R-1 (two requests may share it); 6001 is also a request's id. */
const requestNumber = fc.oneof(
  { weight: 2, arbitrary: fc.constant('R-1') },
  { weight: 1, arbitrary: fc.constantFrom(...REQUEST_NUMBERS) },
)
const rarely = fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })

const dealOf = (dealSite: fc.Arbitrary<Site>, number: fc.Arbitrary<number>): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.constant('deal' as const),
    site: dealSite,
    deal: number,
    day,
    channel,
    kopecks: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }),
    completedAfterDays: fc.option(fc.nat({ max: 40 }), { nil: null }),
    status: fc.constantFrom('final' as const, 'start' as const),
    deleted: rarely,
    manager: fc.constantFrom('Anna', 'Boris', null),
    source: fc.oneof(
      { weight: 1, arbitrary: fc.constant<Source>({ kind: 'none' }) },
      { weight: 2, arbitrary: mostlyFirst(CALL_IDS).map((id): Source => ({ kind: 'call', callId: id })) },
      {
        weight: 3,
        arbitrary: fc
          .oneof(requestNumber, fc.constant('6000'))
          .map((number): Source => ({ kind: 'request', requestNumber: number })),
      },
    ),
    tags: fc.subarray(['vip', 'repeat']),
    customFields: fc.subarray(['cost_price', 'bonus']),
  })

const leadOf = (kind: 'call' | 'request', leadSite: fc.Arbitrary<Site>, id: fc.Arbitrary<number>): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.constant(kind),
    site: leadSite,
    id,
    requestNumber: kind === 'call' ? fc.constant(null) : fc.option(requestNumber, { nil: null, freq: 4 }),
    day,
    channel,
    unique: fc.boolean(),
    target: fc.boolean(),
    tags: fc.subarray(kind === 'call' ? ['hot', 'spam'] : ['form']),
  })

const spend = fc.record({
  kind: fc.constant('spend' as const),
  site,
  day,
  channel,
  kopecks: fc.integer({ min: 0, max: 50_000 }),
})

const connectorRead = fc.record({
  kind: fc.constant('connectorRead' as const),
  day,
  rows: fc.uniqueArray(
    fc.record({
      campaignId: fc.constantFrom(77, 78),
      name: fc.constantFrom(...CAMPAIGN_NAMES),
      kopecks: fc.integer({ min: 0, max: 30_000 }),
    }),
    { maxLength: 2, selector: (row) => row.campaignId },
  ),
})

/** A read of a deal (half the time), a call or a request again. */
const readAgain: fc.Arbitrary<Op> = fc.oneof(
  ...(
    [
      ['orders', DEAL_NUMBERS, 2],
      ['calls', CALL_IDS, 1],
      ['requests', REQUEST_IDS, 1],
    ] as const
  ).map(([journal, ids, weight]) => ({
    weight,
    arbitrary: fc.record({
      kind: fc.constant('readAgain' as const),
      journal: fc.constant(journal),
      site,
      id: mostlyFirst(ids),
    }),
  })),
)

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: dealOf(site, mostlyFirst(DEAL_NUMBERS)) },
  { weight: 2, arbitrary: leadOf('call', site, mostlyFirst(CALL_IDS)) },
  { weight: 3, arbitrary: leadOf('request', site, mostlyFirst(REQUEST_IDS)) },
  { weight: 9, arbitrary: readAgain },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dayReadEmpty' as const), site, day }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'seenAgain' }) },
  { weight: 2, arbitrary: spend },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('spendDeleted' as const), site, day, channel }) },
  { weight: 2, arbitrary: connectorRead },
)

/** A warehouse holding every deal and lead of both sites, some CSV spend and a connector's day or two. */
const warehouse: fc.Arbitrary<Op[]> = fc
  .tuple(
    fc.tuple(...SITES.flatMap((each) => DEAL_NUMBERS.map((number) => dealOf(fc.constant(each), fc.constant(number))))),
    fc.tuple(...SITES.flatMap((each) => CALL_IDS.map((id) => leadOf('call', fc.constant(each), fc.constant(id))))),
    fc.tuple(
      ...SITES.flatMap((each) => REQUEST_IDS.map((id) => leadOf('request', fc.constant(each), fc.constant(id)))),
    ),
    fc.array(spend, { minLength: 1, maxLength: 4 }),
    fc.array(connectorRead, { maxLength: 2 }),
  )
  .map((parts) => parts.flat())

const history: fc.Arbitrary<History> = fc.record({
  initial: warehouse,
  loads: fc.array(fc.array(op, { minLength: 1, maxLength: 5 }), { minLength: 2, maxLength: 5 }),
})

const money = (kopecks: number): string => (kopecks / 100).toFixed(2)

/** The statements a load runs for `op`, in order; `version` tells one version's payload_hash from another's. */
function statementsOf(op: Op, version: number): [string, unknown[]][] {
  switch (op.kind) {
    case 'deal': {
      const orderDay = DAYS[op.day] as string
      const completed =
        op.completedAfterDays === null
          ? null
          : new Date(Date.parse(orderDay) + op.completedAfterDays * 86_400_000).toISOString().slice(0, 10)
      const number = `d${op.deal}`
      const visit = CHANNELS[op.channel] ?? null
      const children: [string, unknown[]][] = ['sources', 'visits', 'custom_fields', 'tags'].map((table) => [
        `delete from calltouch.${table} where site_id = $1 and order_number = $2`,
        [op.site, number],
      ])
      return [
        [
          `insert into calltouch.orders as o (site_id, order_number, order_day, order_date, completed_date, status, manager,
             service, source_type, planned_amount, completed_amount, is_deleted, removed_from_source_at, payload_hash,
             first_seen_at, last_changed_at, last_seen_at)
           values ($1, $2, $3::date, ($3 || ' 10:00:00+03')::timestamptz, $4::date, $5, $6, 'AmoCRM', $7, 500.00,
             $8::numeric, $9, null, $10, now(), now(), now())
           on conflict (site_id, order_number) do update set order_day = excluded.order_day,
             order_date = excluded.order_date, completed_date = excluded.completed_date, status = excluded.status,
             manager = excluded.manager, source_type = excluded.source_type, completed_amount = excluded.completed_amount,
             is_deleted = excluded.is_deleted, removed_from_source_at = null, payload_hash = excluded.payload_hash,
             last_changed_at = excluded.last_changed_at, last_seen_at = excluded.last_seen_at`,
          [
            op.site,
            number,
            orderDay,
            completed,
            op.status,
            op.manager,
            op.source.kind === 'request' ? 'REQUEST' : 'CALL',
            op.kopecks === null ? null : money(op.kopecks),
            op.deleted,
            `v${version}`,
          ],
        ],
        ...children,
        ...(op.source.kind === 'none'
          ? []
          : [
              [
                `insert into calltouch.sources (site_id, order_number, source_type, call_id, request_number)
                 values ($1, $2, $3, $4, $5)`,
                [
                  op.site,
                  number,
                  op.source.kind === 'call' ? 'CALL' : 'REQUEST',
                  op.source.kind === 'call' ? op.source.callId : null,
                  op.source.kind === 'request' ? op.source.requestNumber : null,
                ],
              ] satisfies [string, unknown[]],
            ]),
        ...(visit === null
          ? []
          : [
              [
                `insert into calltouch.visits (site_id, order_number, source, medium, utm_source, utm_medium, utm_campaign)
                 values ($1, $2, 'direct', 'none', $3, $4, $5)`,
                [op.site, number, ...visit],
              ] satisfies [string, unknown[]],
            ]),
        ...op.tags.map((tag): [string, unknown[]] => [
          `insert into calltouch.tags (site_id, order_number, tag) values ($1, $2, $3)`,
          [op.site, number, tag],
        ]),
        ...op.customFields.map((field): [string, unknown[]] => [
          `insert into calltouch.custom_fields (site_id, order_number, field, value) values ($1, $2, $3, $4)`,
          [op.site, number, field, String(version * 7 + field.length)],
        ]),
      ]
    }
    case 'readAgain': {
      const id = { orders: 'order_number', calls: 'call_id', requests: 'request_id' }[op.journal]
      return [
        [
          `update calltouch.${op.journal} set
             removed_from_source_at = case when removed_from_source_at is null then now() end,
             last_seen_at = case when removed_from_source_at is null then last_seen_at else now() end
           where site_id = $1 and ${id}::text = $2`,
          [op.site, op.journal === 'orders' ? `d${op.id}` : String(op.id)],
        ],
      ]
    }
    case 'dayReadEmpty':
      // A complete read of the day that returned nothing: every deal and lead the day held is gone.
      return [
        ['orders', 'order_day'],
        ['calls', 'call_day'],
        ['requests', 'request_day'],
      ].map(([table, column]): [string, unknown[]] => [
        `update calltouch.${table} set removed_from_source_at = now()
         where site_id = $1 and ${column} = $2::date and removed_from_source_at is null`,
        [op.site, DAYS[op.day]],
      ])
    case 'seenAgain':
      return ['orders', 'calls', 'requests'].map((table): [string, unknown[]] => [
        `update calltouch.${table} set last_seen_at = now() where removed_from_source_at is null`,
        [],
      ])
    case 'call':
    case 'request': {
      const leadDay = DAYS[op.day] as string
      const [utmSource, utmMedium, utmCampaign] = CHANNELS[op.channel] ?? [null, null, null]
      const [table, id, tags, prefix] =
        op.kind === 'call'
          ? (['calls', 'call_id', 'call_tags', 'call'] as const)
          : (['requests', 'request_id', 'request_tags', 'request'] as const)
      const numberColumn = op.kind === 'request' ? 'request_number, ' : ''
      const numberValue = op.kind === 'request' ? '$10, ' : ''
      return [
        [
          `insert into calltouch.${table} (site_id, ${id}, ${numberColumn}${prefix}_local_time, ${prefix}_day,
             unique_${prefix}, target_${prefix}, source, medium, utm_source, utm_medium, utm_campaign,
             removed_from_source_at, payload_hash, first_seen_at, last_changed_at, last_seen_at)
           values ($1, $2, ${numberValue}($3 || ' 10:00:00')::timestamp, $3::date, $4, $5, 'direct', 'none', $6, $7, $8,
             null, $9, now(), now(), now())
           on conflict (site_id, ${id}) do update set ${op.kind === 'request' ? 'request_number = excluded.request_number, ' : ''}
             ${prefix}_local_time = excluded.${prefix}_local_time, ${prefix}_day = excluded.${prefix}_day,
             unique_${prefix} = excluded.unique_${prefix}, target_${prefix} = excluded.target_${prefix},
             utm_source = excluded.utm_source, utm_medium = excluded.utm_medium, utm_campaign = excluded.utm_campaign,
             removed_from_source_at = null, payload_hash = excluded.payload_hash,
             last_changed_at = excluded.last_changed_at, last_seen_at = excluded.last_seen_at`,
          [
            op.site,
            op.id,
            leadDay,
            op.unique,
            op.target,
            utmSource,
            utmMedium,
            utmCampaign,
            `v${version}`,
            ...(op.kind === 'request' ? [op.requestNumber] : []),
          ],
        ],
        [`delete from calltouch.${tags} where site_id = $1 and ${id} = $2`, [op.site, op.id]],
        ...op.tags.map((tag): [string, unknown[]] => [
          `insert into calltouch.${tags} (site_id, ${id}, category, type, tag) values ($1, $2, 'manual', 'manual', $3)`,
          [op.site, op.id, tag],
        ]),
      ]
    }
    case 'spend':
    case 'spendDeleted': {
      const [source, medium, campaign] = CHANNELS[op.channel] ?? CSV_NONE
      if (op.kind === 'spendDeleted')
        return [
          [
            `delete from marketing.ad_spend where site_id = $1 and spend_date = $2 and source = $3 and medium = $4
             and campaign = $5`,
            [op.site, DAYS[op.day], source, medium, campaign],
          ],
        ]
      const entry = {
        site_id: op.site,
        spend_date: DAYS[op.day],
        source,
        medium,
        campaign,
        cost: money(op.kopecks),
        currency: 'RUB',
      }
      return [[`-- file upsert_ad_spend`, [JSON.stringify([entry]), `load-${version}.csv`]]]
    }
    case 'connectorRead': {
      const statDay = DAYS[op.day] as string
      const days = op.rows.map(() => statDay)
      const ids = op.rows.map((row) => String(row.campaignId))
      const names = op.rows.map((row) => row.name)
      return [
        [
          `-- file upsert_campaign_stats`,
          [
            ACCOUNT.system,
            ACCOUNT.login,
            ACCOUNT.site,
            'RUB',
            false,
            version,
            days,
            ids,
            names,
            op.rows.map(() => '100'),
            op.rows.map(() => '4'),
            op.rows.map((row) => String(row.kopecks * 10_000)),
          ],
        ],
        [`-- file delete_vanished_campaign_stats`, [ACCOUNT.system, ACCOUNT.login, statDay, statDay, days, ids]],
        [`-- file insert_campaign_names`, [ACCOUNT.system, ACCOUNT.login, ids, names]],
        [
          `-- file upsert_loaded_ledger_days`,
          [ACCOUNT.system, ACCOUNT.login, statDay, statDay, version, [statDay], [op.rows.length]],
        ],
      ]
    }
  }
}

/** Runs a load's statements; `-- file NAME` runs sql/NAME.sql, as the loaders do. */
async function load(db: WarehouseDb, ops: readonly Op[], firstVersion: number): Promise<void> {
  for (const [index, each] of ops.entries()) {
    for (const [text, parameters] of statementsOf(each, firstVersion + index)) {
      const file = /^-- file (\w+)$/.exec(text)?.[1]
      if (file === undefined) await executeSql(db, text, parameters)
      else await runSqlFile(db, file, parameters)
    }
  }
}

/** Tables the history writes, emptied before each one with what transforms remember of the last. */
const WRITTEN_TABLES = [
  'calltouch.orders',
  'calltouch.sources',
  'calltouch.visits',
  'calltouch.tags',
  'calltouch.custom_fields',
  'calltouch.calls',
  'calltouch.call_tags',
  'calltouch.requests',
  'calltouch.request_tags',
  'marketing.ad_spend',
  'marketing.ad_campaign_stats',
  'marketing.ad_campaign_names',
  'etl.ledger',
]

/**
 * Histories that once failed, tried first on every run; `TRANSFORM_PROPERTY_HISTORY` adds one (a
 * counterexample's JSON) to replay it.
 */
const FOUND_BEFORE: History[] = [
  // A deal loses its lead when the lead changes under it: request 6001 numbered R-1 is d2's lead
  // until a new version of it has no number. int_deals_linked_to_leads rebuilt d2 without a lead
  // but kept its link_changed_at (no lead it could link to had changed, the one it left had), so
  // int_lead_deals and fct_leads still gave request 6001 the deal d2.
  {
    initial: [
      {
        kind: 'deal',
        site: 101,
        deal: 2,
        day: 0,
        channel: 0,
        kopecks: 1000,
        completedAfterDays: 1,
        status: 'final',
        deleted: false,
        manager: 'Anna',
        source: { kind: 'request', requestNumber: 'R-1' },
        tags: [],
        customFields: [],
      },
      {
        kind: 'request',
        site: 101,
        id: 6001,
        requestNumber: 'R-1',
        day: 0,
        channel: 0,
        unique: true,
        target: true,
        tags: [],
      },
    ],
    loads: [
      [
        {
          kind: 'request',
          site: 101,
          id: 6001,
          requestNumber: null,
          day: 0,
          channel: 0,
          unique: true,
          target: true,
          tags: [],
        },
      ],
    ],
  },
  ...(process.env.TRANSFORM_PROPERTY_HISTORY ? [JSON.parse(process.env.TRANSFORM_PROPERTY_HISTORY) as History] : []),
]

/**
 * Empties the warehouse and what the runner remembers of its last builds, loads the history, and
 * after each load builds analytics incrementally and analytics_full whole: every incremental model
 * is built whole the first time and incrementally after, every test of the project passes, and the
 * marts are equal row by row.
 */
async function checkHistory(
  db: WarehouseDb,
  projects: { readonly incremental: CompiledProject; readonly full: CompiledProject },
  { initial, loads }: History,
): Promise<void> {
  await executeSql(db, `truncate ${WRITTEN_TABLES.join(', ')}`)
  await executeSql(db, `delete from marketing.ad_accounts`)
  await executeSql(db, `drop table if exists etl.transform_incremental_models`)
  await executeSql(
    db,
    `insert into marketing.ad_accounts (source_system, account, site_id, utm_source, utm_medium, utm_campaign_holds, currency)
       values ($1, $2, $3, 'yandex', 'cpc', 'name', 'RUB')`,
    [ACCOUNT.system, ACCOUNT.login, ACCOUNT.site],
  )
  let version = 1
  for (const [index, ops] of [initial, ...loads].entries()) {
    await load(db, ops, version)
    version += ops.length
    const built = await buildTransform(db, projects.incremental)
    await buildTransform(db, projects.full, { fullRefresh: true, runTests: false })
    expect({ load: index, marts: await martsOf(db, INCREMENTAL_SCHEMA) }).toEqual({
      load: index,
      marts: await martsOf(db, FULL_SCHEMA),
    })
    expect({
      load: index,
      modes: modesOf(built),
      failed: built.tests.filter((test) => test.status !== 'passed').map((test) => [test.name, test.message]),
      unbuilt: built.models.filter((model) => model.status !== 'built').map((model) => [model.name, model.error]),
    }).toEqual({
      load: index,
      modes: everyModel(index === 0 ? 'full' : 'incremental'),
      failed: [],
      unbuilt: [],
    })
  }
}

describeEachEngine('incremental marts over random histories of loads', (engine) => {
  let tw: TestWarehouse
  let incremental: CompiledProject
  let full: CompiledProject
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    incremental = compileTransform({ targetSchema: INCREMENTAL_SCHEMA })
    full = compileTransform({ targetSchema: FULL_SCHEMA })
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('equal a full build row by row after every load, and pass every test of the project', async () => {
    const db = tw.warehouse.db
    let failedAt: number | undefined
    await fc.assert(
      fc.asyncProperty(history, async ({ initial, loads }) => {
        // Shrinking runs two builds a load for every candidate: after SHRINK_MS the candidates left
        // count as passing, so the smallest failing history found so far is the one reported.
        if (failedAt !== undefined && Date.now() - failedAt > SHRINK_MS) return
        try {
          await checkHistory(db, { incremental, full }, { initial, loads })
        } catch (error) {
          failedAt ??= Date.now()
          throw error
        }
      }),
      {
        // The examples count among the runs.
        numRuns: FOUND_BEFORE.length + RUNS,
        examples: FOUND_BEFORE.map((found) => [found]),
        ...(SEED === undefined ? {} : { seed: SEED }),
      },
    )
  }, 600_000)
})

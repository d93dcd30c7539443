import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.

const UP = [
  `create table marketing.ad_spend (
    site_id integer not null,
    spend_date date not null,
    source text not null,
    medium text not null,
    campaign text not null,
    cost numeric(18, 2) not null check (cost >= 0),
    currency text not null default 'RUB',
    imported_at timestamptz not null default now(),
    source_file text not null,
    primary key (site_id, spend_date, source, medium, campaign)
  )`,
  `comment on table marketing.ad_spend is 'Advertising cost by site, day, source, medium and campaign, imported from CSV (calltouch-etl spend import)'`,
  `comment on column marketing.ad_spend.site_id is 'Calltouch site id the spend belongs to'`,
  `comment on column marketing.ad_spend.spend_date is 'Day of the spend'`,
  `comment on column marketing.ad_spend.source is 'utm_source the ads ran under, as imported'`,
  `comment on column marketing.ad_spend.medium is 'utm_medium the ads ran under, as imported'`,
  `comment on column marketing.ad_spend.campaign is 'utm_campaign the ads ran under, as imported'`,
  `comment on column marketing.ad_spend.cost is 'Cost of the day, to the kopeck'`,
  `comment on column marketing.ad_spend.currency is 'Currency of the cost (default RUB)'`,
  `comment on column marketing.ad_spend.imported_at is 'When the row was last imported'`,
  `comment on column marketing.ad_spend.source_file is 'File name the row was last imported from'`,
]

const DOWN = [`drop table if exists marketing.ad_spend`]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}

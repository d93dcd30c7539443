import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.
//
// Ad spend read by the connectors (yandex-direct, vk-ads), per account, day and campaign, next to
// marketing.ad_spend (CSV import). Money is kept in integer micros of the account's currency, as
// Yandex Direct sends it, so no amount ever passes through a float; VK's decimal strings convert
// exactly. A campaign-day without impressions, clicks or cost has no row (Direct sends none), so
// "no row" means zero for both vendors. Campaign names are kept as history: a deal tagged with a
// campaign's old name still finds the campaign.

const UP = [
  `create table marketing.ad_campaign_stats (
    source_system text not null check (source_system in ('yandex-direct', 'vk-ads')),
    account text not null,
    site_id integer not null,
    stat_date date not null,
    campaign_id bigint not null,
    campaign_name text not null,
    impressions bigint not null check (impressions >= 0),
    clicks bigint not null check (clicks >= 0),
    cost_micros bigint not null check (cost_micros >= 0),
    cost numeric(24, 6) generated always as (cost_micros * 0.000001) stored,
    currency text not null,
    includes_vat boolean not null,
    run_id bigint not null,
    loaded_at timestamptz not null default now(),
    primary key (source_system, account, stat_date, campaign_id)
  )`,
  `create index ad_campaign_stats_site_day on marketing.ad_campaign_stats (site_id, stat_date)`,
  `comment on table marketing.ad_campaign_stats is 'Ad spend per account, day and campaign, read from the ad platforms by calltouch-etl sync (one row per campaign-day with activity; no row means zero)'`,
  `comment on column marketing.ad_campaign_stats.source_system is 'The ad platform: yandex-direct or vk-ads'`,
  `comment on column marketing.ad_campaign_stats.account is 'The account within the platform: the Yandex Direct client login, the VK Ads client id'`,
  `comment on column marketing.ad_campaign_stats.site_id is 'The Calltouch site the account advertises (adAccounts[].site)'`,
  `comment on column marketing.ad_campaign_stats.stat_date is 'Day of the statistics, in the account''s own time zone as the platform reports it'`,
  `comment on column marketing.ad_campaign_stats.campaign_id is 'Campaign id in the platform (Direct CampaignId, VK Ads ad plan id)'`,
  `comment on column marketing.ad_campaign_stats.campaign_name is 'Campaign name as the platform gave it at the last read (all names ever seen: marketing.ad_campaign_names)'`,
  `comment on column marketing.ad_campaign_stats.impressions is 'Impressions (VK Ads: shows) of the day'`,
  `comment on column marketing.ad_campaign_stats.clicks is 'Clicks of the day'`,
  `comment on column marketing.ad_campaign_stats.cost_micros is 'Cost of the day in millionths of the currency, exact (Direct sends micros; VK Ads kopecks × 10,000)'`,
  `comment on column marketing.ad_campaign_stats.cost is 'cost_micros in the currency (exact: a product, never a division, generated)'`,
  `comment on column marketing.ad_campaign_stats.currency is 'Currency of the account (RUB, KZT, ...), from the platform or adAccounts[].currency'`,
  `comment on column marketing.ad_campaign_stats.includes_vat is 'Whether cost includes VAT (Direct reports are asked without VAT; VK Ads spend is net of VAT)'`,
  `comment on column marketing.ad_campaign_stats.run_id is 'The run (etl.runs) that last changed the row'`,
  `comment on column marketing.ad_campaign_stats.loaded_at is 'When the row was last changed'`,
  `create table marketing.ad_accounts (
    source_system text not null check (source_system in ('yandex-direct', 'vk-ads')),
    account text not null,
    site_id integer not null,
    utm_source text not null,
    utm_medium text not null,
    utm_campaign_holds text not null check (utm_campaign_holds in ('id', 'name')),
    currency text not null,
    updated_at timestamptz not null default now(),
    primary key (source_system, account)
  )`,
  `comment on table marketing.ad_accounts is 'The ad accounts calltouch-etl sync reads, with the channel keys (adAccounts[].utm) their spend stands for; kept as configured at the last sync'`,
  `comment on column marketing.ad_accounts.source_system is 'The ad platform: yandex-direct or vk-ads'`,
  `comment on column marketing.ad_accounts.account is 'The account within the platform: the Yandex Direct client login, the VK Ads client id'`,
  `comment on column marketing.ad_accounts.site_id is 'The Calltouch site the account advertises'`,
  `comment on column marketing.ad_accounts.utm_source is 'utm_source of the deals the account''s ads bring (adAccounts[].utm.source)'`,
  `comment on column marketing.ad_accounts.utm_medium is 'utm_medium of the deals the account''s ads bring (adAccounts[].utm.medium)'`,
  `comment on column marketing.ad_accounts.utm_campaign_holds is 'What the deals'' utm_campaign holds for these ads: the campaign id, or its name (adAccounts[].utm.campaign)'`,
  `comment on column marketing.ad_accounts.currency is 'Currency of the account''s cost'`,
  `comment on column marketing.ad_accounts.updated_at is 'When a sync last wrote the row'`,
  `create table marketing.ad_campaign_names (
    source_system text not null,
    account text not null,
    campaign_id bigint not null,
    campaign_name text not null,
    first_seen_at timestamptz not null default now(),
    primary key (source_system, account, campaign_id, campaign_name)
  )`,
  `comment on table marketing.ad_campaign_names is 'Every name an ad campaign has had, so deals tagged with an old name still match their campaign'`,
  `comment on column marketing.ad_campaign_names.source_system is 'The ad platform: yandex-direct or vk-ads'`,
  `comment on column marketing.ad_campaign_names.account is 'The account within the platform'`,
  `comment on column marketing.ad_campaign_names.campaign_id is 'Campaign id in the platform'`,
  `comment on column marketing.ad_campaign_names.campaign_name is 'A name the campaign had'`,
  `comment on column marketing.ad_campaign_names.first_seen_at is 'When a read first saw the campaign under this name'`,
]

const DOWN = [
  `drop table if exists marketing.ad_campaign_names`,
  `drop table if exists marketing.ad_accounts`,
  `drop table if exists marketing.ad_campaign_stats`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}

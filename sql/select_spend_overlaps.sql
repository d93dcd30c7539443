-- Where CSV spend (marketing.ad_spend) and a connector both cover a site-day-source-medium in a
-- period, for the warning of `calltouch-etl status`; the rule of the dbt model
-- int_ad_spend_unioned: a connector covers a site-day-source-medium when its account (site and
-- channel keys of marketing.ad_accounts) has the day read completely in etl.ledger (ok, or failed
-- on a later read while its rows stay) or has spend rows that day, and then its spend counts and
-- the CSV rows are left out. Keys compare as the dbt macro channel_key makes them.
-- $1 site id, $2 first day, $3 last day (inclusive).
-- One row per account and CSV source-medium: days, first_day, last_day, csv_spend (left out, to
-- the kopeck), ordered by account and keys.
with accounts as (
  select
    source_system,
    account,
    site_id,
    coalesce(nullif(nullif(nullif(nullif(lower(trim(utm_source)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') as utm_source,
    coalesce(nullif(nullif(nullif(nullif(lower(trim(utm_medium)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') as utm_medium
  from marketing.ad_accounts
),
covered as (
  select accounts.source_system, accounts.account, accounts.utm_source, accounts.utm_medium, ledger.day
  from accounts
  join etl.ledger on ledger.source = accounts.source_system and ledger.account = accounts.account
  where accounts.site_id = $1::integer
    and ledger.day between $2::date and $3::date
    and (ledger.status = 'ok' or ledger.last_succeeded_at is not null)
  union
  select accounts.source_system, accounts.account, accounts.utm_source, accounts.utm_medium, stats.stat_date
  from marketing.ad_campaign_stats stats
  join accounts on accounts.source_system = stats.source_system and accounts.account = stats.account
  where stats.site_id = $1::integer and stats.stat_date between $2::date and $3::date
),
csv_days as (
  select
    spend_date as day,
    coalesce(nullif(nullif(nullif(nullif(lower(trim(source)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') as utm_source,
    coalesce(nullif(nullif(nullif(nullif(lower(trim(medium)), ''), '<не заполнено>'), '(not set)'), '(none)'), '(none)') as utm_medium,
    sum(cost) as cost
  from marketing.ad_spend
  where site_id = $1::integer and spend_date between $2::date and $3::date
  group by 1, 2, 3
)
select
  covered.source_system,
  covered.account,
  covered.utm_source,
  covered.utm_medium,
  count(*)::int as days,
  to_char(min(covered.day), 'YYYY-MM-DD') as first_day,
  to_char(max(covered.day), 'YYYY-MM-DD') as last_day,
  round(sum(csv_days.cost), 2) as csv_spend
from covered
join csv_days
  on csv_days.day = covered.day
  and csv_days.utm_source = covered.utm_source
  and csv_days.utm_medium = covered.utm_medium
group by covered.source_system, covered.account, covered.utm_source, covered.utm_medium
order by covered.source_system, covered.account collate "C", covered.utm_source, covered.utm_medium

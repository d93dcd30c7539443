-- One site's deals, rejected records and spend coverage (CSV or connector spend) for `calltouch-etl status` (how far it
-- has been read is the ledger's: select_ledger_summary.sql).
-- $1 site_id, $2 today in the site's zone (date), $3 days in the recent window (today included),
-- $4 now (timestamptz) for the rejected records of the same number of days.
with recent as (
  select ($2::date - ($3::int - 1)) as first_day, $2::date as last_day
),
deal_days as (
  select distinct orders.order_day
  from calltouch.orders, recent
  where orders.site_id = $1
    and orders.order_day between recent.first_day and recent.last_day
    and not orders.is_deleted
    and orders.removed_from_source_at is null
)
select
  (select count(*)::int from etl.rejected_records where site_id = $1 and rejected_at > $4::timestamptz - make_interval(days => $3::int)) as rejected_recent,
  (select count(*)::int from calltouch.orders where site_id = $1) as deals_total,
  (select count(*)::int from calltouch.orders, recent where site_id = $1 and order_day between recent.first_day and recent.last_day) as deals_recent,
  (select count(*)::int from deal_days) as days_with_deals_recent,
  (
    select coalesce(array_agg(to_char(deal_days.order_day, 'YYYY-MM-DD') order by deal_days.order_day), '{}')
    from deal_days
    where not exists (
      select 1 from marketing.ad_spend
      where ad_spend.site_id = $1 and ad_spend.spend_date = deal_days.order_day
    )
    and not exists (
      select 1 from marketing.ad_campaign_stats
      where ad_campaign_stats.site_id = $1 and ad_campaign_stats.stat_date = deal_days.order_day
    )
  ) as days_without_spend

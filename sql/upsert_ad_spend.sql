-- $1: jsonb array of {site_id, spend_date, source, medium, campaign, cost, currency},
--     one element per key (the file's lines already added up), cost as exact decimal text.
-- $2: the file's base name.
-- Set-based: a file of 100,000 lines is one statement. A key the warehouse
-- already has is replaced (re-importing a file replaces the rows it covers).
with upserted as (
  insert into marketing.ad_spend as spend (site_id, spend_date, source, medium, campaign, cost, currency, imported_at, source_file)
  select entry.site_id, entry.spend_date, entry.source, entry.medium, entry.campaign, entry.cost, entry.currency, now(), $2::text
  from jsonb_to_recordset($1::jsonb) as entry (
    site_id integer,
    spend_date date,
    source text,
    medium text,
    campaign text,
    cost numeric(18, 2),
    currency text
  )
  on conflict (site_id, spend_date, source, medium, campaign) do update
  set cost = excluded.cost,
      currency = excluded.currency,
      imported_at = excluded.imported_at,
      source_file = excluded.source_file
  -- xmax is 0 on a freshly inserted row version and set on one an update replaced.
  returning (spend.xmax = 0) as inserted
)
select
  count(*)::integer as upserted,
  (count(*) filter (where inserted))::integer as inserted
from upserted

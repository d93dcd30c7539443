-- Writes the campaign-days of one read of an ad account: a new row is inserted, a row whose
-- values changed is updated, an unchanged row is not touched (an unchanged re-read writes
-- nothing). Same transaction as delete_vanished_campaign_stats and the ledger's days.
-- $1 source system, $2 account, $3 site id, $4 currency, $5 includes VAT, $6 run id,
-- $7 days (text[] YYYY-MM-DD), $8 campaign ids (text[] of integers), $9 campaign names (text[]),
-- $10 impressions (text[]), $11 clicks (text[]), $12 cost micros (text[]): one element per row,
-- no (day, campaign) twice.
-- Returns one row per written row: inserted true for a new one, false for an update.
with incoming as (
  select r.day::date as stat_date, r.campaign_id::bigint as campaign_id, r.campaign_name,
         r.impressions::bigint as impressions, r.clicks::bigint as clicks, r.cost_micros::bigint as cost_micros
  from unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
    as r (day, campaign_id, campaign_name, impressions, clicks, cost_micros)
)
insert into marketing.ad_campaign_stats as s (
  source_system, account, site_id, stat_date, campaign_id, campaign_name, impressions, clicks, cost_micros,
  currency, includes_vat, run_id, loaded_at
)
select $1::text, $2::text, $3::integer, i.stat_date, i.campaign_id, i.campaign_name, i.impressions, i.clicks,
       i.cost_micros, $4::text, $5::boolean, $6::bigint, now()
from incoming i
on conflict (source_system, account, stat_date, campaign_id) do update set
  site_id = excluded.site_id,
  campaign_name = excluded.campaign_name,
  impressions = excluded.impressions,
  clicks = excluded.clicks,
  cost_micros = excluded.cost_micros,
  currency = excluded.currency,
  includes_vat = excluded.includes_vat,
  run_id = excluded.run_id,
  loaded_at = excluded.loaded_at
where (s.site_id, s.campaign_name, s.impressions, s.clicks, s.cost_micros, s.currency, s.includes_vat)
  is distinct from
  (excluded.site_id, excluded.campaign_name, excluded.impressions, excluded.clicks, excluded.cost_micros,
   excluded.currency, excluded.includes_vat)
returning (xmax = 0) as inserted

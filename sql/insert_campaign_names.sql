-- Adds every (campaign, name) of a read not seen before to the name history of an ad account.
-- $1 source system, $2 account, $3 campaign ids (text[]), $4 names (text[]), same order.
-- Returns the count added.
with added as (
  insert into marketing.ad_campaign_names (source_system, account, campaign_id, campaign_name)
  select distinct $1::text, $2::text, n.campaign_id::bigint, n.campaign_name
  from unnest($3::text[], $4::text[]) as n (campaign_id, campaign_name)
  on conflict do nothing
  returning 1
)
select count(*)::integer as added from added

-- Per site: fct_leads has one row per row of calltouch.calls and
-- calltouch.requests; the leads of fct_funnel_daily are those rows not removed
-- from the source (target leads likewise); and the deals of fct_leads are the
-- counted deals linked to a lead. Returns the sites that differ.
with

calls as (

    select * from {{ source('calltouch', 'calls') }}

),

requests as (

    select * from {{ source('calltouch', 'requests') }}

),

leads as (

    select * from {{ ref('fct_leads') }}

),

funnel as (

    select * from {{ ref('fct_funnel_daily') }}

),

linked_deals as (

    select * from {{ ref('int_deals_linked_to_leads') }}

),

sources as (

    select
        site_id,
        1 as rows_,
        case when removed_from_source_at is null then 1 else 0 end as counted,
        case when removed_from_source_at is null and target_call then 1 else 0 end as target
    from calls

    union all

    select
        site_id,
        1,
        case when removed_from_source_at is null then 1 else 0 end,
        case when removed_from_source_at is null and target_request then 1 else 0 end
    from requests

),

counts as (

    select site_id, 'source_rows' as measure, sum(rows_) as expected, 0 as actual from sources group by site_id
    union all
    select site_id, 'source_rows', 0, count(*) from leads group by site_id
    union all
    select site_id, 'funnel_leads', sum(counted), 0 from sources group by site_id
    union all
    select site_id, 'funnel_leads', 0, sum(leads) from funnel group by site_id
    union all
    select site_id, 'funnel_target_leads', sum(target), 0 from sources group by site_id
    union all
    select site_id, 'funnel_target_leads', 0, sum(target_leads) from funnel group by site_id
    union all
    select site_id, 'lead_deals', count(*), 0 from linked_deals where lead_key is not null and is_counted group by site_id
    union all
    select site_id, 'lead_deals', 0, sum(deals) from leads group by site_id

),

final as (

    select
        site_id,
        measure,
        sum(expected) as expected,
        sum(actual) as actual

    from counts

    group by site_id, measure

    having sum(expected) <> sum(actual)

)

select * from final

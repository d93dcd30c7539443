with

deals as (

    select * from {{ ref('int_deals_attributed') }}

),

deal_sources as (

    select * from {{ ref('stg_calltouch__sources') }}

),

leads as (

    select * from {{ ref('int_leads') }}

),

-- A deal's call: orderSource.callId = the call's callId, on the deal's site.
call_links as (

    select
        deal_sources.site_id,
        deal_sources.order_number,
        leads.lead_key,
        'call_id' as linked_by,
        1 as rule_rank,
        leads.is_removed_from_source,
        leads.lead_id

    from deal_sources

    inner join leads
        on leads.site_id = deal_sources.site_id
        and leads.lead_type = 'call'
        and leads.lead_id = deal_sources.call_id

    where deal_sources.call_id is not null

),

-- A deal's request: orderSource.requestNumber = the request's requestNumber;
-- only when no request has that number, the request whose requestId rendered
-- as text is that value (LEADS-API.md §4, a site that sent no number).
request_links as (

    select
        deal_sources.site_id,
        deal_sources.order_number,
        leads.lead_key,
        'request_number' as linked_by,
        1 as rule_rank,
        leads.is_removed_from_source,
        leads.lead_id

    from deal_sources

    inner join leads
        on leads.site_id = deal_sources.site_id
        and leads.lead_type = 'request'
        and leads.request_number = deal_sources.request_number

    where deal_sources.request_number is not null

    union all

    select
        deal_sources.site_id,
        deal_sources.order_number,
        leads.lead_key,
        'request_id' as linked_by,
        2 as rule_rank,
        leads.is_removed_from_source,
        leads.lead_id

    from deal_sources

    inner join leads
        on leads.site_id = deal_sources.site_id
        and leads.lead_type = 'request'
        and cast(leads.lead_id as text) = deal_sources.request_number

    where deal_sources.request_number is not null

),

-- One lead per deal: the first rule that matches; among leads matched by the
-- same rule (two requests sharing a number), the one still in the source, then
-- the lowest id.
ranked as (

    select
        site_id,
        order_number,
        lead_key,
        linked_by,
        row_number() over (
            partition by site_id, order_number
            order by rule_rank, case when is_removed_from_source then 1 else 0 end, lead_id
        ) as preference

    from (
        select * from call_links
        union all
        select * from request_links
    ) as candidates

),

final as (

    select
        deals.deal_key,
        deals.site_id,
        deals.order_number,
        deals.ordered_at,
        deals.order_day,
        deals.deal_day,
        deals.source_type,
        deal_sources.call_id,
        deal_sources.request_number,
        ranked.lead_key,
        ranked.linked_by,
        deals.is_counted,
        deals.revenue

    from deals

    left join deal_sources
        on deal_sources.site_id = deals.site_id
        and deal_sources.order_number = deals.order_number

    left join ranked
        on ranked.site_id = deals.site_id
        and ranked.order_number = deals.order_number
        and ranked.preference = 1

)

select * from final

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='deal_key',
        indexes=[
            {'columns': ['deal_key'], 'unique': true},
            {'columns': ['lead_key']},
            {'columns': ['changed_at']},
            {'columns': ['link_changed_at']},
            {'columns': ['is_removed_from_source']},
            {'columns': ['site_id', 'call_id']},
            {'columns': ['site_id', 'request_number']}
        ],
        post_hook="{{ enforce_not_null(this, ['deal_key']) }}"
    )
}}

-- depends_on: {{ ref('stg_calltouch__orders') }}

with

{% if is_incremental() %}
-- The batch: the deals changed since this table's last build, those back after removal, and the
-- deals whose lead may have changed with a lead loaded since: those whose source names it, and
-- those linked to it.
since as (

    select coalesce(max(link_changed_at), cast('-infinity' as timestamptz)) as changed_at from {{ this }}

),

changed_leads as (

    select * from {{ ref('int_leads') }}
    where changed_at > (select changed_at from since)

),

batch as (

    select site_id, order_number
    from {{ ref('stg_calltouch__orders') }}
    where greatest(last_changed_at, removed_from_source_at) > (select changed_at from since)

    union

    -- Back after removal: removed in this table, no longer in the source (each looked up by
    -- its key; the limit keeps PostgreSQL from making it a join over every deal).
    select built.site_id, built.order_number
    from {{ this }} as built
    cross join lateral (
        select 1
        from {{ ref('stg_calltouch__orders') }} as orders
        where orders.site_id = built.site_id
            and orders.order_number = built.order_number
            and orders.removed_from_source_at is null
        limit 1
    ) as back
    where built.is_removed_from_source

    union

    -- The deals whose source names a changed lead, as this table holds their sources (a deal
    -- whose source changed is in the batch anyway, with its new version), and the deals linked
    -- to one: read by index, the leads as arrays (a deal of another site naming the same id may
    -- come along, and is built as it is).
    select built.site_id, built.order_number
    from {{ this }} as built
    where built.site_id = any(array(select distinct site_id from changed_leads where lead_type = 'call'))
        and built.call_id = any(array(select lead_id from changed_leads where lead_type = 'call'))

    union

    select built.site_id, built.order_number
    from {{ this }} as built
    where built.site_id = any(array(select distinct site_id from changed_leads where lead_type = 'request'))
        and built.request_number = any(array(
            select request_number from changed_leads where lead_type = 'request' and request_number is not null
            union all
            select cast(lead_id as text) from changed_leads where lead_type = 'request'
        ))

    union

    select built.site_id, built.order_number
    from {{ this }} as built
    where built.lead_key = any(array(select lead_key from changed_leads))

),
{% endif %}

deals as (

    -- Only what this model needs (the channel keys are not computed, the visits not read).
    select
        deal_key,
        site_id,
        order_number,
        ordered_at,
        order_day,
        deal_day,
        source_type,
        is_removed_from_source,
        is_counted,
        revenue,
        changed_at,
        last_seen_at

    from {{ ref('int_deals_attributed') }}
    {% if is_incremental() %}
    -- As arrays, so the deals are read by key (a few of all); another site's deal of the same
    -- number may come along, and is built as it is.
    where site_id = any(array(select distinct site_id from batch))
        and order_number = any(array(select order_number from batch))
    {% endif %}

),

deals_with_sources as (

    select
        deals.*,
        deal_sources.call_id,
        deal_sources.request_number

    from deals

    left join {{ ref('stg_calltouch__sources') }} as deal_sources
        on deal_sources.site_id = deals.site_id
        and deal_sources.order_number = deals.order_number

),

-- Every lead a deal could link to, one row each, and one row without a lead for every deal
-- (kept when none matches). A deal's call: orderSource.callId = the call's callId, on the deal's
-- site. A deal's request: orderSource.requestNumber = the request's requestNumber; only when no
-- request has that number, the request whose requestId rendered as text is that value
-- (LEADS-API.md §4, a site that sent no number).
candidates as (

    select
        deals_with_sources.*,
        leads.lead_key,
        case when leads.lead_key is not null then 'call_id' end as linked_by,
        1 as rule_rank,
        leads.is_removed_from_source as lead_is_removed,
        leads.lead_id,
        leads.changed_at as lead_changed_at

    from deals_with_sources

    left join {{ ref('int_leads') }} as leads
        on leads.site_id = deals_with_sources.site_id
        and leads.lead_type = 'call'
        and leads.lead_id = deals_with_sources.call_id

    union all

    select
        deals_with_sources.*,
        leads.lead_key,
        'request_number',
        1,
        leads.is_removed_from_source,
        leads.lead_id,
        leads.changed_at

    from deals_with_sources

    inner join {{ ref('int_leads') }} as leads
        on leads.site_id = deals_with_sources.site_id
        and leads.lead_type = 'request'
        and leads.request_number = deals_with_sources.request_number

    union all

    select
        deals_with_sources.*,
        leads.lead_key,
        'request_id',
        2,
        leads.is_removed_from_source,
        leads.lead_id,
        leads.changed_at

    from deals_with_sources

    inner join {{ ref('int_leads') }} as leads
        on leads.site_id = deals_with_sources.site_id
        and leads.lead_type = 'request'
        and cast(leads.lead_id as text) = deals_with_sources.request_number

),

-- One lead per deal: the first rule that matches; among leads matched by the same rule (two
-- requests sharing a number), the one still in the source, then the lowest id. And when one of
-- the leads the deal could link to last changed: a change of any of them can move the deal.
ranked as (

    select
        *,
        row_number() over (
            partition by site_id, order_number
            order by
                case when lead_key is null then 1 else 0 end,
                rule_rank,
                case when lead_is_removed then 1 else 0 end,
                lead_id,
                lead_key collate "C"
        ) as preference,
        max(lead_changed_at) over (partition by site_id, order_number) as candidates_changed_at

    from candidates

),

final as (

    select
        ranked.deal_key,
        ranked.site_id,
        ranked.order_number,
        ranked.ordered_at,
        ranked.order_day,
        ranked.deal_day,
        ranked.source_type,
        ranked.call_id,
        ranked.request_number,
        ranked.lead_key,
        ranked.linked_by,
        ranked.is_removed_from_source,
        ranked.is_counted,
        ranked.revenue,
        -- When a new version of the deal was loaded or it was marked removed from the source.
        ranked.changed_at as deal_changed_at,
        -- The same, or when the deal came back after removal (seen again while this table had it
        -- removed), never earlier than it was (a deal rebuilt without a change keeps its time):
        -- what the deal marts read to find the deals changed since their last build.
        {% if is_incremental() %}
        greatest(
            ranked.changed_at,
            case when built.is_removed_from_source and not ranked.is_removed_from_source then ranked.last_seen_at end,
            built.changed_at
        ) as changed_at,
        {% else %}
        ranked.changed_at as changed_at,
        {% endif %}
        -- That, or when one of the leads the deal could link to last changed (a change of any of
        -- them can move the deal to another lead), or the lead it was linked to (a change of it
        -- can leave the deal without a lead: a request's number changed): what the lead marts read.
        greatest(
            ranked.changed_at,
            ranked.candidates_changed_at
            {% if is_incremental() %}
            , case when built.is_removed_from_source and not ranked.is_removed_from_source then ranked.last_seen_at end,
            built.link_changed_at,
            built_lead.changed_at
            {% endif %}
        ) as link_changed_at,
        -- Every day the deal has had and every lead it has been linked to since this table was
        -- built whole, so that the marts rebuild the day and the lead a deal left as well: lists
        -- separated by spaces, in order (text, not arrays, which dbt's unit tests cannot type).
        {% if is_incremental() %}
        (
            select string_agg(distinct deal_days.deal_day, ' ' order by deal_days.deal_day)
            from unnest(string_to_array(concat_ws(' ', built.deal_days, cast(ranked.deal_day as text)), ' '))
                as deal_days (deal_day)
        ) as deal_days,
        (
            select string_agg(distinct lead_keys.lead_key, ' ' order by lead_keys.lead_key)
            from unnest(string_to_array(concat_ws(' ', built.lead_keys, ranked.lead_key), ' ')) as lead_keys (lead_key)
        ) as lead_keys
        {% else %}
        cast(ranked.deal_day as text) as deal_days,
        ranked.lead_key as lead_keys
        {% endif %}

    from ranked

    {% if is_incremental() %}
    -- Each deal's last build read by its key, however many deals the planner expects (the limit
    -- keeps PostgreSQL from making the lateral read a join over the whole table).
    left join lateral (
        select previous.deal_days, previous.lead_keys, previous.lead_key, previous.is_removed_from_source,
            previous.changed_at, previous.link_changed_at
        from {{ this }} as previous
        where previous.deal_key = ranked.deal_key
        limit 1
    ) as built on true
    -- The lead of its last build, by its key likewise.
    left join lateral (
        select leads.changed_at
        from {{ ref('int_leads') }} as leads
        where leads.lead_key = built.lead_key
        limit 1
    ) as built_lead on true
    {% endif %}

    where ranked.preference = 1

)

select * from final

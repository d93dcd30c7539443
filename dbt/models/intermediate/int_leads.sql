{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lead_key',
        indexes=[
            {'columns': ['lead_key'], 'unique': true},
            {'columns': ['changed_at']},
            {'columns': ['is_removed_from_source']},
            {'columns': ['site_id', 'lead_id']},
            {'columns': ['site_id', 'request_number']},
            {'columns': ['site_id', '(cast(lead_id as text))']}
        ],
        post_hook="{{ enforce_not_null(this, ['lead_key', 'site_id', 'lead_id', 'lead_day']) }}"
    )
}}

with

{% if is_incremental() %}
since as (

    select coalesce(max(changed_at), cast('-infinity' as timestamptz)) as changed_at from {{ this }}

),
{% endif %}

calls as (

    select * from {{ ref('stg_calltouch__calls') }}
    {% if is_incremental() %}
    -- Only the calls changed since this table's last build: a new version or removal from the
    -- source, or back after removal (seen again while this table has it removed).
    where greatest(last_changed_at, removed_from_source_at) > (select changed_at from since)
        or (
            last_seen_at > (select changed_at from since)
            and removed_from_source_at is null
            and cast(site_id as text) || ':call:' || cast(call_id as text) in (
                select lead_key from {{ this }} where is_removed_from_source
            )
        )
    {% endif %}

),

requests as (

    select * from {{ ref('stg_calltouch__requests') }}
    {% if is_incremental() %}
    where greatest(last_changed_at, removed_from_source_at) > (select changed_at from since)
        or (
            last_seen_at > (select changed_at from since)
            and removed_from_source_at is null
            and cast(site_id as text) || ':request:' || cast(request_id as text) in (
                select lead_key from {{ this }} where is_removed_from_source
            )
        )
    {% endif %}

),

call_leads as (

    select
        site_id,
        'call' as lead_type,
        call_id as lead_id,
        cast(null as text) as request_number,
        call_day as lead_day,
        called_at as led_at,
        call_local_time as lead_local_time,
        coalesce(is_unique, false) as is_unique,
        coalesce(is_target, false) as is_target,
        coalesce(is_unique_target, false) as is_unique_target,
        {{ channel_key('utm_source', 'lead_source') }} as utm_source,
        {{ channel_key('utm_medium', 'lead_medium') }} as utm_medium,
        {{ channel_key('utm_campaign') }} as utm_campaign,
        yandex_direct_campaign_id,
        client_key,
        removed_from_source_at,
        greatest(last_changed_at, removed_from_source_at) as lead_changed_at,
        last_seen_at

    from calls

),

request_leads as (

    select
        site_id,
        'request' as lead_type,
        request_id as lead_id,
        request_number,
        request_day as lead_day,
        requested_at as led_at,
        request_local_time as lead_local_time,
        coalesce(is_unique, false) as is_unique,
        coalesce(is_target, false) as is_target,
        coalesce(is_unique_target, false) as is_unique_target,
        {{ channel_key('utm_source', 'lead_source') }} as utm_source,
        {{ channel_key('utm_medium', 'lead_medium') }} as utm_medium,
        {{ channel_key('utm_campaign') }} as utm_campaign,
        yandex_direct_campaign_id,
        client_key,
        removed_from_source_at,
        greatest(last_changed_at, removed_from_source_at) as lead_changed_at,
        last_seen_at

    from requests

),

unioned as (

    select
        cast(site_id as text) || ':' || lead_type || ':' || cast(lead_id as text) as lead_key,
        *
    from call_leads
    union all
    select
        cast(site_id as text) || ':' || lead_type || ':' || cast(lead_id as text) as lead_key,
        *
    from request_leads

),

final as (

    select
        unioned.lead_key,
        unioned.site_id,
        unioned.lead_type,
        unioned.lead_id,
        unioned.request_number,
        unioned.lead_day,
        unioned.led_at,
        unioned.lead_local_time,
        unioned.is_unique,
        unioned.is_target,
        unioned.is_unique_target,
        unioned.utm_source,
        unioned.utm_medium,
        unioned.utm_campaign,
        unioned.yandex_direct_campaign_id,
        unioned.client_key,
        unioned.removed_from_source_at is not null as is_removed_from_source,
        unioned.removed_from_source_at is null as is_counted,
        -- When a new version of the lead was loaded or it was marked removed from the source.
        unioned.lead_changed_at,
        -- The same, or when it came back after removal (seen again while this table had it
        -- removed); what the incremental models read to find the leads changed since their last build.
        {% if is_incremental() %}
        greatest(
            unioned.lead_changed_at,
            case when built.is_removed_from_source and unioned.removed_from_source_at is null then unioned.last_seen_at end,
            built.changed_at
        ) as changed_at,
        {% else %}
        unioned.lead_changed_at as changed_at,
        {% endif %}
        -- Every day the lead has had since this table was built whole, so that the funnel
        -- rebuilds the day a lead left as well as the day it is on: a list separated by spaces,
        -- in order (text, not an array, which dbt's unit tests cannot type).
        {% if is_incremental() %}
        (
            select string_agg(distinct lead_days.lead_day, ' ' order by lead_days.lead_day)
            from unnest(string_to_array(concat_ws(' ', built.lead_days, cast(unioned.lead_day as text)), ' '))
                as lead_days (lead_day)
        ) as lead_days
        {% else %}
        cast(unioned.lead_day as text) as lead_days
        {% endif %}

    from unioned

    {% if is_incremental() %}
    -- Each lead's last build read by its key, however many leads the planner expects (the limit
    -- keeps PostgreSQL from making the lateral read a join over the whole table).
    left join lateral (
        select previous.lead_days, previous.is_removed_from_source, previous.changed_at
        from {{ this }} as previous
        where previous.lead_key = unioned.lead_key
        limit 1
    ) as built on true
    {% endif %}

)

select * from final

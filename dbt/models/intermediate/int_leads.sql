with

calls as (

    select * from {{ ref('stg_calltouch__calls') }}

),

requests as (

    select * from {{ ref('stg_calltouch__requests') }}

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
        removed_from_source_at

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
        removed_from_source_at

    from requests

),

unioned as (

    select * from call_leads
    union all
    select * from request_leads

),

final as (

    select
        cast(site_id as text) || ':' || lead_type || ':' || cast(lead_id as text) as lead_key,
        site_id,
        lead_type,
        lead_id,
        request_number,
        lead_day,
        led_at,
        lead_local_time,
        is_unique,
        is_target,
        is_unique_target,
        utm_source,
        utm_medium,
        utm_campaign,
        yandex_direct_campaign_id,
        client_key,
        removed_from_source_at is not null as is_removed_from_source,
        removed_from_source_at is null as is_counted

    from unioned

)

select * from final

with

source as (

    select * from {{ source('calltouch', 'calls') }}

),

-- The caller's number is never selected: client_key stands for the client.
renamed as (

    select
        site_id,
        call_id,
        call_time as called_at,
        call_local_time,
        call_day,
        duration_seconds,
        waiting_seconds,
        successful as is_successful,
        unique_call as is_unique,
        target_call as is_target,
        uniq_target_call as is_unique_target,
        callback_call as is_callback,
        source as lead_source,
        medium as lead_medium,
        keyword,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        utm_term,
        city,
        session_id,
        yandex_direct_campaign_id,
        yandex_direct_ad_group_id,
        yandex_direct_ad_id,
        phone_number as tracking_phone_number,
        client_key,
        removed_from_source_at,
        last_changed_at

    from source

)

select * from renamed

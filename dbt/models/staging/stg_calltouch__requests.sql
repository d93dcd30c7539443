with

source as (

    select * from {{ source('calltouch', 'requests') }}

),

-- The client's name, phones and e-mails are never selected: client_key stands for the client.
renamed as (

    select
        site_id,
        request_id,
        request_number,
        request_time as requested_at,
        request_local_time,
        request_day,
        subject,
        manager,
        unique_request as is_unique,
        target_request as is_target,
        uniq_target_request as is_unique_target,
        session_local_time,
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
        client_key,
        removed_from_source_at,
        last_changed_at

    from source

)

select * from renamed

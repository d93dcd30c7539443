{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lead_key',
        indexes=[
            {'columns': ['lead_key'], 'unique': true},
            {'columns': ['link_changed_at']}
        ],
        post_hook=[
            "delete from {{ this }} where deals is null",
            "{{ enforce_not_null(this, ['lead_key']) }}"
        ]
    )
}}

with

{% if is_incremental() %}
-- The batch: every lead a deal changed since this table's last build is or was linked to
-- (int_deals_linked_to_leads), rebuilt whole.
batch as (

    select distinct linked_lead_keys.lead_key
    from {{ ref('int_deals_linked_to_leads') }} as linked
    cross join unnest(string_to_array(linked.lead_keys, ' ')) as linked_lead_keys (lead_key)
    where linked.lead_keys is not null
        and linked.link_changed_at
            > (select coalesce(max(link_changed_at), cast('-infinity' as timestamptz)) from {{ this }})

),
{% endif %}

linked_deals as (

    select * from {{ ref('int_deals_linked_to_leads') }}
    {% if is_incremental() %}
    -- As an array, so the deals are read by the lead_key index.
    where lead_key = any(array(select lead_key from batch))
    {% endif %}

),

counted as (

    select
        *,
        row_number() over (
            partition by lead_key
            order by ordered_at, order_day, order_number collate "C"
        ) as deal_order

    from linked_deals

    where lead_key is not null and is_counted

),

final as (

    select
        lead_key,
        cast(count(*) as integer) as deals,
        cast(count(*) filter (where revenue > 0) as integer) as deals_with_revenue,
        cast(sum(revenue) as numeric(18, 2)) as revenue,
        max(case when deal_order = 1 then deal_key end) as first_deal_key,
        max(case when deal_order = 1 then order_number end) as first_order_number,
        max(case when deal_order = 1 then order_day end) as first_deal_day,
        string_agg(order_number, ', ' order by deal_order) as order_numbers,
        max(deal_changed_at) as last_changed_at,
        max(link_changed_at) as link_changed_at

    from counted

    group by lead_key

)

select * from final
{% if is_incremental() %}
-- One row without deals for every lead rebuilt that has no counted deal now, so that
-- delete+insert deletes its row too; the post_hook deletes it.
union all
select
    lead_key,
    cast(null as integer),
    cast(null as integer),
    cast(null as numeric(18, 2)),
    cast(null as text),
    cast(null as text),
    cast(null as date),
    cast(null as text),
    cast(null as timestamptz),
    cast(null as timestamptz)
from batch
where not exists (select 1 from final where final.lead_key = batch.lead_key)
{% endif %}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['site_id', 'date_month'],
        indexes=[
            {'columns': ['site_id', 'date_month']}
        ],
        post_hook="delete from {{ this }} where manager is null"
    )
}}

-- depends_on: {{ ref('int_deals_linked_to_leads') }}

with

{% if is_incremental() %}
-- The batch: every site-month whose deals or channels changed since this table's last build,
-- rebuilt whole (delete+insert by site and month).
since as (

    select coalesce(max(last_changed_at), cast('-infinity' as timestamptz)) as changed_at from {{ this }}

),

-- The months of the deals changed since: the month of the day each is on and of every day it has left.
changed_deal_months as (

    select distinct
        linked.site_id,
        cast(date_trunc('month', cast(deal_days.deal_day as timestamp)) as date) as date_month
    from {{ ref('int_deals_linked_to_leads') }} as linked
    cross join unnest(string_to_array(linked.deal_days, ' ')) as deal_days (deal_day)
    where linked.changed_at > (select changed_at from since)

),

-- A channel-month whose spend or deals in fct_marketing_monthly are not what this table's
-- managers add up to, or that only one of them has (the managers' spend adds up to the
-- channel's exactly, and a channel without deals has its '(no deals)' row).
built_channels as (

    select
        site_id,
        date_month,
        utm_source,
        utm_medium,
        utm_campaign,
        sum(deals) as deals,
        sum(spend) as spend

    from {{ this }}

    group by site_id, date_month, utm_source, utm_medium, utm_campaign

),

changed_channel_months as (

    select
        coalesce(monthly.site_id, built_channels.site_id) as site_id,
        coalesce(monthly.date_month, built_channels.date_month) as date_month

    from {{ ref('fct_marketing_monthly') }} as monthly

    full outer join built_channels
        on built_channels.site_id = monthly.site_id
        and built_channels.date_month = monthly.date_month
        and built_channels.utm_source = monthly.utm_source
        and built_channels.utm_medium = monthly.utm_medium
        and built_channels.utm_campaign = monthly.utm_campaign

    where monthly.site_id is null
        or built_channels.site_id is null
        or monthly.spend <> built_channels.spend
        or monthly.deals <> built_channels.deals

),

batch_months as (

    select site_id, date_month from changed_deal_months
    union
    select site_id, date_month from changed_channel_months

),
{% endif %}

deals as (

    select * from {{ ref('fct_deals') }}
    {% if is_incremental() %}
    -- Every day of the months rebuilt, as arrays of sites and days, so that fct_deals is read by
    -- its index: a month of one site may bring the same month of another site along, and every
    -- site-month so read is rebuilt whole (its deals and channels read alike).
    where site_id = any(array(select distinct site_id from batch_months))
        and deal_day = any(array(
            select cast(month_days.month_day as date)
            from (select distinct date_month from batch_months) as months
            cross join generate_series(
                cast(months.date_month as timestamp),
                cast(months.date_month as timestamp) + interval '1 month' - interval '1 day',
                interval '1 day'
            ) as month_days (month_day)
        ))
    {% endif %}

),

channels as (

    select * from {{ ref('fct_marketing_monthly') }}
    {% if is_incremental() %}
    where site_id = any(array(select distinct site_id from batch_months))
        and date_month = any(array(select distinct date_month from batch_months))
    {% endif %}

),

manager_deals as (

    select
        site_id,
        cast(date_trunc('month', cast(deal_day as timestamp)) as date) as date_month,
        coalesce(nullif(manager, ''), '(none)') as manager,
        utm_source,
        utm_medium,
        utm_campaign,
        count(*) as deals,
        sum(case when revenue > 0 then 1 else 0 end) as deals_with_revenue,
        sum(revenue) as revenue,
        sum(coalesce(planned_amount, 0)) as planned_revenue,
        max(last_changed_at) as last_changed_at

    from deals

    where is_counted and deal_day is not null

    group by 1, 2, 3, 4, 5, 6

),

shares as (

    select
        manager_deals.*,
        channels.spend as channel_spend,
        round(channels.spend * manager_deals.deals / channels.deals, 2) as rounded_spend,
        row_number() over (
            partition by manager_deals.site_id, manager_deals.date_month, manager_deals.utm_source, manager_deals.utm_medium, manager_deals.utm_campaign
            order by manager_deals.deals desc, manager_deals.manager collate "C"
        ) as share_rank

    from manager_deals

    inner join channels
        on channels.site_id = manager_deals.site_id
        and channels.date_month = manager_deals.date_month
        and channels.utm_source = manager_deals.utm_source
        and channels.utm_medium = manager_deals.utm_medium
        and channels.utm_campaign = manager_deals.utm_campaign

),

-- Shares are rounded to the kopeck; what rounding leaves over goes to the
-- manager with the most deals (then the first by name in byte order), so the managers'
-- spend adds up to the channel's exactly.
manager_rows as (

    select
        site_id,
        date_month,
        manager,
        utm_source,
        utm_medium,
        utm_campaign,
        deals,
        deals_with_revenue,
        revenue,
        planned_revenue,
        last_changed_at,
        rounded_spend + case
            when share_rank = 1
                then channel_spend - sum(rounded_spend) over (
                    partition by site_id, date_month, utm_source, utm_medium, utm_campaign
                )
            else 0
        end as spend

    from shares

),

unallocated_rows as (

    select
        site_id,
        date_month,
        '(no deals)' as manager,
        utm_source,
        utm_medium,
        utm_campaign,
        0 as deals,
        0 as deals_with_revenue,
        cast(0 as numeric(18, 2)) as revenue,
        cast(0 as numeric(18, 2)) as planned_revenue,
        cast(null as timestamptz) as last_changed_at,
        spend

    from channels

    where deals = 0

),

unioned as (

    select * from manager_rows
    union all
    select * from unallocated_rows
    {% if is_incremental() %}
    -- One row without a manager per month rebuilt, so that delete+insert deletes the rows of a
    -- month left without deals or spend too; the post_hook deletes it.
    union all
    select
        site_id,
        date_month,
        cast(null as text),
        cast(null as text),
        cast(null as text),
        cast(null as text),
        0,
        0,
        cast(0 as numeric(18, 2)),
        cast(0 as numeric(18, 2)),
        cast(null as timestamptz),
        cast(0 as numeric(18, 2))
    from (select distinct site_id from batch_months) as batch_sites
    cross join (select distinct date_month from batch_months) as batch_dates
    {% endif %}

),

final as (

    select
        site_id,
        date_month,
        manager,
        utm_source,
        utm_medium,
        utm_campaign,
        cast(deals as integer) as deals,
        cast(deals_with_revenue as integer) as deals_with_revenue,
        cast(revenue as numeric(18, 2)) as revenue,
        cast(planned_revenue as numeric(18, 2)) as planned_revenue,
        cast(spend as numeric(18, 2)) as spend,
        cast(revenue - spend as numeric(18, 2)) as profit,
        {{ roi('revenue', 'spend') }} as roi,
        last_changed_at

    from unioned

)

select * from final

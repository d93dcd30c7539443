with

deals as (

    select * from {{ ref('int_deals_attributed') }}

),

channels as (

    select * from {{ ref('fct_marketing_monthly') }}

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
        sum(coalesce(planned_amount, 0)) as planned_revenue

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
        spend

    from channels

    where deals = 0

),

unioned as (

    select * from manager_rows
    union all
    select * from unallocated_rows

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
        {{ roi('revenue', 'spend') }} as roi

    from unioned

)

select * from final

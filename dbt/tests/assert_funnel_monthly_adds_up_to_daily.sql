-- fct_funnel_monthly adds up, per site, month and channel keys, to
-- fct_funnel_daily, and its ratios are those of its sums, null exactly where
-- their divisor is 0. Returns what differs.
with

daily as (

    select * from {{ ref('fct_funnel_daily') }}

),

monthly as (

    select * from {{ ref('fct_funnel_monthly') }}

),

daily_sums as (

    select
        site_id,
        cast(date_trunc('month', cast(date_day as timestamp)) as date) as date_month,
        utm_source,
        utm_medium,
        utm_campaign,
        sum(leads) as leads,
        sum(unique_leads) as unique_leads,
        sum(target_leads) as target_leads,
        sum(leads_with_deals) as leads_with_deals,
        sum(deals) as deals,
        sum(revenue) as revenue,
        sum(spend) as spend

    from daily

    group by 1, 2, 3, 4, 5

),

final as (

    select
        coalesce(daily_sums.site_id, monthly.site_id) as site_id,
        coalesce(daily_sums.date_month, monthly.date_month) as date_month,
        daily_sums.leads as daily_leads,
        monthly.leads as monthly_leads

    from daily_sums

    full outer join monthly
        on monthly.site_id = daily_sums.site_id
        and monthly.date_month = daily_sums.date_month
        and monthly.utm_source = daily_sums.utm_source
        and monthly.utm_medium = daily_sums.utm_medium
        and monthly.utm_campaign = daily_sums.utm_campaign

    where daily_sums.site_id is null
        or monthly.site_id is null
        or daily_sums.leads <> monthly.leads
        or daily_sums.unique_leads <> monthly.unique_leads
        or daily_sums.target_leads <> monthly.target_leads
        or daily_sums.leads_with_deals <> monthly.leads_with_deals
        or daily_sums.deals <> monthly.deals
        or daily_sums.revenue <> monthly.revenue
        or daily_sums.spend <> monthly.spend
        or (monthly.leads = 0) <> (monthly.cost_per_lead is null)
        or (monthly.target_leads = 0) <> (monthly.cost_per_target_lead is null)
        or (monthly.leads = 0) <> (monthly.lead_to_deal_conversion is null)
        or (monthly.spend = 0) <> (monthly.roi is null)
        or monthly.cost_per_lead <> monthly.spend / nullif(monthly.leads, 0)
        or monthly.lead_to_deal_conversion <> cast(monthly.leads_with_deals as numeric) / nullif(monthly.leads, 0)

)

select * from final

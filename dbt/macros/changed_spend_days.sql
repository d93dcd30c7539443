{#-
    The CTEs spend_now and changed_spend_days of an incremental daily mart keyed by site, day and
    channel: spend is small, so all of it is compared with what the table holds, key by key, and
    a late correction, a row deleted, a connector's day read again or an account's new keys are
    all seen. A row the table holds for spend that is gone counts when it held spend, or when it
    is there for its spend only (spend_only_row: the mart's condition on `built`).
-#}
{% macro changed_spend_days(spend, built_table, spend_only_row) -%}
spend_now as (

    select
        site_id,
        date_day,
        utm_source,
        utm_medium,
        utm_campaign,
        cast(sum(spend) as numeric(18, 2)) as spend

    from {{ spend }}

    group by site_id, date_day, utm_source, utm_medium, utm_campaign

),

changed_spend_days as (

    select
        coalesce(spend_now.site_id, built.site_id) as site_id,
        coalesce(spend_now.date_day, built.date_day) as date_day

    from spend_now

    full outer join {{ built_table }} as built
        on built.site_id = spend_now.site_id
        and built.date_day = spend_now.date_day
        and built.utm_source = spend_now.utm_source
        and built.utm_medium = spend_now.utm_medium
        and built.utm_campaign = spend_now.utm_campaign

    where built.site_id is null
        or spend_now.spend <> built.spend
        or (spend_now.site_id is null and (built.spend <> 0 or ({{ spend_only_row }})))

)
{%- endmacro %}

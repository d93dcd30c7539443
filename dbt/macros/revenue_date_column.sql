{#-
    The column of calltouch.orders that decides a deal's day: order_day (the
    lead cohort, the default) or, with the var revenue_date = completed_date,
    completed_date. Any other value is refused by `calltouch-etl transform`.
-#}
{% macro revenue_date_column() -%}
{%- if var('revenue_date') == 'completed_date' -%}
completed_date
{%- else -%}
order_day
{%- endif -%}
{%- endmacro %}

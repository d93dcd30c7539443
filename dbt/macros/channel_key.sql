{#-
    A channel key (utm_source, utm_medium or utm_campaign) for grouping: the
    value lower-cased and trimmed; null, empty, '<не заполнено>', '(not set)'
    and '(none)' all become '(none)'. With a fallback (the visit's source or
    medium), an empty value takes the fallback's key instead. Deals and ad spend
    both go through this macro, so their keys meet.
-#}
{% macro channel_key(value, fallback='') -%}
coalesce(
        nullif(nullif(nullif(nullif(lower(trim({{ value }})), ''), '<не заполнено>'), '(not set)'), '(none)'),
        {%- if fallback %}
        nullif(nullif(nullif(nullif(lower(trim({{ fallback }})), ''), '<не заполнено>'), '(not set)'), '(none)'),
        {%- endif %}
        '(none)'
    )
{%- endmacro %}

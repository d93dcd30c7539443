{#-
    numerator / denominator, unrounded (PostgreSQL's numeric division keeps at
    least 16 significant digits), so a chart or a sum of marts never works on
    rounded values; null where the denominator is 0, never an error or
    infinity. The numerator is cast to numeric, so a ratio of two counts is
    never an integer division. The funnel's cost per lead and conversion.
-#}
{% macro ratio(numerator, denominator) -%}
case when {{ denominator }} = 0 then null else cast({{ numerator }} as numeric) / {{ denominator }} end
{%- endmacro %}

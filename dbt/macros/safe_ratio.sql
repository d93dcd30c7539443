{#-
    numerator / denominator rounded to `places` decimals; null where the
    denominator is 0, so a ratio over nothing is never an error or infinity.
    roi() is the same rule for (revenue - spend) / spend.
-#}
{% macro safe_ratio(numerator, denominator, places) -%}
case when {{ denominator }} = 0 then null else round({{ numerator }} / {{ denominator }}, {{ places }}) end
{%- endmacro %}

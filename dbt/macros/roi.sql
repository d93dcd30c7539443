{#-
    ROI as a fraction, (revenue - spend) / spend, rounded to 4 places (0.01 %);
    null where spend is 0, so a channel without spend is never an error or infinity.
-#}
{% macro roi(revenue, spend) -%}
case when {{ spend }} = 0 then null else round(({{ revenue }} - {{ spend }}) / {{ spend }}, 4) end
{%- endmacro %}

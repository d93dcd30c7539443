{#-
    ROI as a fraction, (revenue - spend) / spend, unrounded (PostgreSQL's numeric
    division keeps at least 16 significant digits), so a sum of marts or a chart
    never adds up rounded values; `calltouch-etl report` formats it. Null where
    spend is 0, so a channel without spend is never an error or infinity.
-#}
{% macro roi(revenue, spend) -%}
case when {{ spend }} = 0 then null else ({{ revenue }} - {{ spend }}) / {{ spend }} end
{%- endmacro %}

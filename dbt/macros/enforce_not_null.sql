{#-
    A post_hook: the columns become NOT NULL, so PostgreSQL refuses a row with
    a null there when an incremental build inserts it, and their not_null
    tests hold by the table itself (calltouch-etl transform reports them passed
    without scanning the table; real dbt still runs them). Altered only while
    one of them is still nullable (the build that created the table): an
    incremental build takes no lock the readers would wait for.
-#}
{% macro enforce_not_null(relation, columns) -%}
do $enforce_not_null$
begin
    if exists (
        select 1
        from pg_attribute
        where attrelid = '{{ relation }}'::regclass
            and attname in ({% for column in columns %}'{{ column }}'{% if not loop.last %}, {% endif %}{% endfor %})
            and not attnotnull
    ) then
        alter table {{ relation }}
            {% for column in columns %}alter column {{ column }} set not null{% if not loop.last %}, {% endif %}{% endfor %};
    end if;
end
$enforce_not_null$
{%- endmacro %}

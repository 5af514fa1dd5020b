{#- The rows of a source table that another stage creates on its first write (the ML assets' recommendations,
    the first loaded decision), or, until it exists, no rows with the same columns: the loop models then build
    empty instead of failing a whole-project `dbt build` on a fresh warehouse. In a unit test the source is a
    fixture (a CTE), never looked up. `columns` maps each column to string, timestamp, bigint or double. -#}
{% macro cycle_source_or_empty(relation, columns) -%}
{%- set exists = not execute or relation.is_cte or load_relation(relation) is not none -%}
{%- if exists -%}
    select * from {{ relation }}
{%- else -%}
    select
    {%- for name, type in columns.items() %}
        {{ dbt.cast('null', cycle_type_named(type)) }} as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    where 1 = 0
{%- endif -%}
{%- endmacro %}

{% macro cycle_type_named(name) -%}
{%- if name == 'string' -%}{{ dbt.type_string() }}
{%- elif name == 'timestamp' -%}{{ dbt.type_timestamp() }}
{%- elif name == 'bigint' -%}{{ dbt.type_bigint() }}
{%- elif name == 'double' -%}{{ cycle_type_double() }}
{%- else -%}{{ exceptions.raise_compiler_error("cycle_type_named: unknown type " ~ name) }}
{%- endif -%}
{%- endmacro %}

{#- A deterministic text key (md5) of the given column expressions; nulls hash as '' with a separator,
    so (a, null) and (null, a) differ. Portable: dbt.hash / dbt.concat / dbt.cast. -#}
{% macro cycle_surrogate_key(columns) -%}
  {%- set parts = [] -%}
  {%- for column in columns -%}
    {%- do parts.append("coalesce(" ~ dbt.cast(column, dbt.type_string()) ~ ", '')") -%}
    {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
  {%- endfor -%}
  {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#- Window-scoped data tests. A scheduled run builds one partition: testing every row of the history on every
    run made the heavy tests grow with the history (unique on stg_social_post_snapshots: 2.0 s at 30 days,
    20.1 s at 180), although the run only wrote the window's rows. A test whose `config: where:` holds
    `in_window(<date column>)` checks the rows whose column lies in the partition window when one is set
    (vars min_date/max_date or env CYCLE_DBT_MIN_DATE/CYCLE_DBT_MAX_DATE, macros/date_window.sql), and every
    row otherwise: a full `dbt build` still tests the whole history.

    Why a placeholder and not a macro call: a test's `where` is rendered when the project is parsed, where no
    custom macro is available and where reading the window's env vars would record them in the manifest (each
    new window would re-parse the project). The placeholder is replaced here, at execution, in the macro every
    generic test passes its model through. Left unreplaced (this override gone), `in_window(...)` is an
    unknown SQL function: the test errors instead of silently testing nothing. -#}

{% macro get_where_subquery(relation) -%}
  {%- set where = config.get('where', '') -%}
  {%- if where -%}
    {%- set where = cycle_render_test_window(where) -%}
    {%- set filtered -%}
      (select * from {{ relation }} where {{ where }}) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
  {%- else -%}
    {%- do return(relation) -%}
  {%- endif -%}
{%- endmacro %}

{#- `where` with each `in_window(<column>)` replaced by the window predicate on that column, or by `1 = 1`
    when no window is set. -#}
{% macro cycle_render_test_window(where) -%}
  {%- set pattern = 'in_window\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)' -%}
  {%- set columns = modules.re.findall(pattern, where) -%}
  {%- if not columns -%}
    {%- do return(where) -%}
  {%- endif -%}
  {%- set windowed = cycle_window_is_set() -%}
  {%- set parts = modules.re.split(pattern, where) -%}
  {#- re.split with one group alternates text, column, text, ...: rebuild with each column's predicate -#}
  {%- set out = [] -%}
  {%- for part in parts -%}
    {%- if loop.index0 % 2 == 0 -%}
      {%- do out.append(part) -%}
    {%- elif windowed -%}
      {%- do out.append(cycle_in_window(part)) -%}
    {%- else -%}
      {%- do out.append('(1 = 1)') -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do return(out | join('')) -%}
{%- endmacro %}

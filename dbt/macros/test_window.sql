{#- Window-scoped data tests. A scheduled run builds one partition: testing every row of the history on every
    run made the heavy tests grow with the history (unique on stg_social_post_snapshots: 2.0 s at 30 days,
    20.1 s at 180), although the run only wrote the window's rows. A test whose `config: where:` holds
    `in_window(<date column>)` checks the rows whose column lies in the partition window when one is set
    (vars min_date/max_date or env CYCLE_DBT_MIN_DATE/CYCLE_DBT_MAX_DATE, macros/date_window.sql), and every
    row otherwise: a full `dbt build` still tests the whole history.

    A model can say it once for all its tests: `config: meta: test_window: "in_window(<date column>)"` on the
    model adds that condition to every data test attached to it (to the test's own `where`, if any; a test
    comparing with another model reads that one over the same window: cycle_reconciles_with_parent). What a
    windowed test cannot see is a key without a date duplicated across two windows (unique on an event id):
    a full build's tests find it.

    Why a placeholder and not a macro call: a test's `where` is rendered when the project is parsed, where no
    custom macro is available and where reading the window's env vars would record them in the manifest (each
    new window would re-parse the project). The placeholder is replaced here, at execution, in the macro every
    generic test passes its model through. Left unreplaced (this override gone), `in_window(...)` is an
    unknown SQL function: the test errors instead of silently testing nothing. -#}

{% macro get_where_subquery(relation) -%}
  {%- set where = config.get('where', '') -%}
  {%- set model_window = cycle_model_test_window() -%}
  {%- if model_window -%}
    {%- set where = '(' ~ where ~ ') and ' ~ model_window if where else model_window -%}
  {%- endif -%}
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
    when no window is set. `in_window(<column>, after=<days>)` (and `before=`) widens it, for a model whose run
    rewrites days around its window; <days> is a number or the name of a project var
    (`in_window(metric_date, after=post_history_lookback_days)`). -#}
{% macro cycle_render_test_window(where) -%}
  {%- set pattern = 'in_window\(([^()]*)\)' -%}
  {%- if not modules.re.search(pattern, where) -%}
    {%- do return(where) -%}
  {%- endif -%}
  {%- set windowed = cycle_window_is_set() -%}
  {%- set parts = modules.re.split(pattern, where) -%}
  {#- re.split with one group alternates text, arguments, text, ...: rebuild with each call's predicate -#}
  {%- set out = [] -%}
  {%- for part in parts -%}
    {%- if loop.index0 % 2 == 0 -%}
      {%- do out.append(part) -%}
    {%- elif windowed -%}
      {%- do out.append(cycle_test_window_predicate(part)) -%}
    {%- else -%}
      {%- do out.append('(1 = 1)') -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do return(out | join('')) -%}
{%- endmacro %}

{#- The predicate of one `in_window(...)`: its arguments are a column, then optional `before=` / `after=`. -#}
{% macro cycle_test_window_predicate(arguments) -%}
  {%- set args = arguments.split(',') | map('trim') | list -%}
  {%- set column = args[0] -%}
  {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_.]*$', column) -%}
    {{ exceptions.raise_compiler_error("in_window(...) takes a column first, got '" ~ arguments ~ "'") }}
  {%- endif -%}
  {%- set widen = {'before': 0, 'after': 0} -%}
  {%- for arg in args[1:] -%}
    {%- set match = modules.re.match('^(before|after)\s*=\s*([A-Za-z0-9_]+)$', arg) -%}
    {%- if not match -%}
      {{ exceptions.raise_compiler_error("in_window(...) takes before=<days> and after=<days> after the column, got '" ~ arg ~ "'") }}
    {%- endif -%}
    {%- set days = match.group(2) -%}
    {%- do widen.update({match.group(1): (days | int) if days.isdigit() else (var(days) | int)}) -%}
  {%- endfor -%}
  {%- do return(cycle_in_window(column, before=widen['before'], after=widen['after'])) -%}
{%- endmacro %}

{#- The running test's model-level window (`meta: test_window` of the model it is attached to), its placeholder
    replaced; '' when the model sets none, or while parsing (the graph is known only at execution). A runner
    whose manifest has no flat graph (one loaded from manifest.json without build_flat_graph()) gets '' too:
    the test then checks every row, the safe side. -#}
{% macro cycle_model_test_window() -%}
  {%- if not execute or model is not defined or not model.attached_node or not graph.get('nodes') -%}
    {%- do return('') -%}
  {%- endif -%}
  {%- set attached = graph.nodes.get(model.attached_node) -%}
  {%- set window = ((attached or {}).get('config', {}).get('meta') or {}).get('test_window', '') -%}
  {%- if not window -%}
    {%- do return('') -%}
  {%- endif -%}
  {%- if not modules.re.fullmatch('in_window\([^()]*\)', window) -%}
    {{ exceptions.raise_compiler_error(model.attached_node ~ ": meta test_window must be in_window(<date column>[, before=..][, after=..]), got '" ~ window ~ "'") }}
  {%- endif -%}
  {%- do return(cycle_render_test_window(window)) -%}
{%- endmacro %}

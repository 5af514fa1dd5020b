{#- A pre-hook for a model whose joins PostgreSQL misplans: on PostgreSQL, no nested loops for the rest of the
    model's transaction (`set local` ends with it), elsewhere nothing (an empty hook is skipped).
    Why: a windowed run of int_post_daily_increments joins aggregates (each post's first day, its opening
    snapshot's time) to the snapshots; PostgreSQL cannot estimate an equality with an aggregate, guessed a row or
    two, and ran the snapshot scans once per post in nested loops: 148 s for the tests' three days on the
    parity test's rerun, where DuckDB takes a fraction of a second. Hash joins need no such estimate. -#}
{% macro cycle_postgres_hash_joins() -%}
  {%- if target.type == 'postgres' -%}
    set local enable_nestloop = off
  {%- endif -%}
{%- endmacro %}

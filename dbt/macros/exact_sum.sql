{#-
    Order-independent float aggregates. A float sum depends on the order its rows arrive in (each addition
    rounds), and that order is not part of SQL: it follows the join shapes, the physical order of an
    incremental table after a delete+insert, and the threads. So the same rows could give sums that differ
    in their last digits from one run to the next (a rerun of a day changed agg_account_daily's checksums,
    and everything computed from it downstream). These macros add the values as fixed-point decimals, which
    both DuckDB (128-bit integers) and PostgreSQL (numeric) add exactly, so any order gives the same sum,
    and cast the result back to the column's documented double type.

    Each value is rounded to 18 decimals first (cycle_type_exact_sum), below a double's own resolution for
    any value above 0.001, so the sums match float sums to within their rounding and nothing downstream
    sees another number; the 20 integer digits left hold any money, score or count sum of this project.
    Integer sums are exact already: they keep sum().

    `over`: a window clause's contents for a windowed sum (`partition by ...`), none for an aggregate.
-#}
{% macro cycle_exact_sum(expr, over=none) -%}
  {%- set total -%}
    sum({{ dbt.cast(expr, cycle_type_exact_sum()) }}){% if over is not none %} over ({{ over }}){% endif %}
  {%- endset -%}
  {{ dbt.cast(total, cycle_type_double()) }}
{%- endmacro %}

{#- The mean of the non-null values of `expr`, as avg() (null without any): the exact sum over their count. -#}
{% macro cycle_exact_avg(expr) -%}
  {{ cycle_safe_divide(cycle_exact_sum(expr), 'count(' ~ expr ~ ')') }}
{%- endmacro %}

{#- The sample standard deviation of the non-null values of `expr`, as stddev_samp() (null under two values),
    from exact sums: n * sum(x^2) - sum(x)^2 over n * (n - 1). The squares are taken in double (per row, so
    in no order) and summed exactly; the subtraction is then in double on order-free sums. It cancels when the
    spread is tiny against the mean (not the case of the engagement rates it serves), and is clamped at 0 so
    that rounding cannot give the root of a negative number. -#}
{% macro cycle_exact_stddev_samp(expr) -%}
  {%- set n = 'count(' ~ expr ~ ')' -%}
  case
    when {{ n }} < 2 then null
    else sqrt(greatest(
      ({{ n }} * {{ cycle_exact_sum('(' ~ expr ~ ') * (' ~ expr ~ ')') }}
        - {{ cycle_exact_sum(expr) }} * {{ cycle_exact_sum(expr) }})
      / ({{ dbt.cast(n, cycle_type_double()) }} * ({{ n }} - 1)),
      0
    ))
  end
{%- endmacro %}

{#-
    dim_post's pre-hook on an incremental run: delete the stored posts whose span of days meets the window and
    that have no row left in fct_post_metrics_daily over the days their history can lie in (the window widened
    by var post_history_lookback_days on both sides): their days were rebuilt without them (a restated day),
    and a full build has no row for them. The delete+insert of the run only replaces the posts it computes, so
    without this their old row would stay. fct_post_metrics_daily is built before dim_post in the same run.
-#}
{% macro cycle_delete_vanished_posts() -%}
  {%- if is_incremental() -%}
    {%- set lookback = var('post_history_lookback_days') -%}
    {%- set window_days = cycle_window_days() -%}
    delete from {{ this }}
    where first_metric_date <= cast('{{ window_days[1] }}' as date)
        and latest_metric_date >= cast('{{ window_days[0] }}' as date)
        and not exists (
            select 1
            from {{ ref('fct_post_metrics_daily') }} as post_days
            where post_days.platform = {{ this.identifier }}.platform
                and post_days.post_id = {{ this.identifier }}.post_id
                and {{ cycle_in_window('post_days.metric_date', before=lookback, after=lookback) }}
        )
  {%- endif -%}
{%- endmacro %}

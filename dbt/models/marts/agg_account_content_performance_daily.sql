{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        pre_hook="{{ cycle_delete_window('metric_date', before=var('post_history_lookback_days'), after=var('post_history_lookback_days')) }}"
    )
}}

-- Content performance per day and publishing account (what a workspace is served): agg_content_performance_daily
-- at the account grain, made by the same macro (incremental, rewriting the window's days and those around
-- it: see the macro); summed over a platform's accounts it is that model (tested).

{{ cycle_content_performance(['platform', 'account_id']) }}

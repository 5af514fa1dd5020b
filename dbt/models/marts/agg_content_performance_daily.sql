{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='metric_date',
        pre_hook="{{ cycle_delete_window('metric_date', before=var('post_history_lookback_days'), after=var('post_history_lookback_days')) }}"
    )
}}

-- Content performance per day and platform: for each hook type, media type and topic (long format: dimension,
-- dimension_value), what the posts with that attribute gained that day and how they scored. The same macro
-- makes agg_account_content_performance_daily, its rows per publishing account. Incremental, rewriting the
-- window's days and those around it that it changes (see the macro).

{{ cycle_content_performance(['platform']) }}

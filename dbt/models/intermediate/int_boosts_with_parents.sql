-- A table rather than the folder's view: each of its four data tests and fct_boost_contribution evaluated the
-- parent rule over every boost day (its tests grew 0.08 -> 0.5 s apiece from 30 to 365 days,
-- benchmarks/dbt_window.py). Rebuilt whole every run, so a held-back day still comes back with the first build
-- after its parent arrives.
{{ config(materialized='table') }}

-- The boost days that may enter the facts: those whose campaign has its row that day in
-- raw_ad_campaign_metrics and whose post has snapshots in raw_social_post_snapshots (or whose post is one
-- Cycle never tracks, a Facebook/Instagram post a Meta ad promotes: it needs its campaign day only). The others are held
-- back, listed with the missing parent in fct_held_back_rows, and come back by themselves with the first
-- build after the parent arrives (the rule lives in macros/held_back.sql, shared with that list).

{{ cycle_rows_with_parents('stg_boosts') }}

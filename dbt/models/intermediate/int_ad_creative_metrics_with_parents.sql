-- The ad days that may enter fct_ad_creative_performance: those whose campaign has its row that day in
-- raw_ad_campaign_metrics (the ads of a campaign and day add up to it). The others are held back, listed
-- with the missing campaign day in fct_held_back_rows, and come back by themselves with the first build of
-- their day after the campaign's row arrives (the rule lives in macros/held_back.sql, shared with that
-- list).

{{ cycle_rows_with_parents('stg_ad_creative_metrics') }}

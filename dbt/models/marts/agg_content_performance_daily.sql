-- Content performance per day and platform: for each hook type, media type and topic (long format: dimension,
-- dimension_value), what the posts with that attribute gained that day and how they scored. The same macro
-- makes agg_account_content_performance_daily, its rows per publishing account.

{{ cycle_content_performance(['platform']) }}

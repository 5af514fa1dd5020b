-- Content performance per day and publishing account (what a workspace is served): agg_content_performance_daily
-- at the account grain, made by the same macro; summed over a platform's accounts it is that model (tested).

{{ cycle_content_performance(['platform', 'account_id']) }}

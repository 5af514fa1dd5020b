-- Which hook templates engage best over every post, with the uncertainty that makes a ranking fair: each hook's
-- mean engagement rate with its 95% t confidence interval, ranked by the interval's lower bound, and only when
-- enough posts used it (var hook_min_posts), so a hook used twice cannot top the list by luck. The same macro
-- makes agg_account_hook_success, the ranking within each account's own posts.

{{ cycle_hook_success(grain=[], lift_column='lift_vs_all_posts') }}

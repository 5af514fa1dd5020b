-- agg_hook_success per publishing account (what a workspace is served): which hook templates engage best on
-- each account's own posts, ranked within the account by the lower bound of their 95% interval, and only when
-- enough of the account's posts used it (var hook_min_posts). Made by the same macro as agg_hook_success;
-- summed over accounts, posts per hook is agg_hook_success's (tested).

{{ cycle_hook_success(grain=['platform', 'account_id'], lift_column='lift_vs_account_posts') }}

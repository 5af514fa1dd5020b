-- Each AI generator call with the account it was for: the publishing account of the post it produced
-- (through dim_post). A generation carries a platform but no account of its own, so one that published
-- no post (failed, filtered, or not used) or whose post the warehouse has not seen belongs to no account:
-- its account_id is null. The account grain (agg_overview_account_daily) takes the calls with an account;
-- agg_overview_daily adds the others back to its totals, so no call is lost from them.

with generations as (

    select * from {{ ref('stg_ai_generations') }}

),

posts as (

    select platform, post_id, account_id from {{ ref('dim_post') }}

)

select
    generations.generation_id,
    generations.generated_date,
    generations.platform,
    generations.post_id,
    posts.account_id,
    posts.account_id is not null as is_attributed,
    generations.status,
    {{ dbt.cast('generations.cost_usd', cycle_type_double()) }} as cost_usd,
    {{ dbt.cast('generations.total_tokens', dbt.type_bigint()) }} as total_tokens

from generations

left join posts
    on generations.platform = posts.platform
    and generations.post_id = posts.post_id

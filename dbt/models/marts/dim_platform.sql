-- Every platform Cycle reads, organic and paid (seed platform_catalog), with what each is.

select
    {{ dbt.cast('platform', dbt.type_string()) }} as platform,
    {{ dbt.cast('display_name', dbt.type_string()) }} as display_name,
    {{ dbt.cast('platform_kind', dbt.type_string()) }} as platform_kind,
    platform_kind = 'organic' as is_organic,
    platform_kind = 'ad' as is_paid,
    {{ dbt.cast('network', dbt.type_string()) }} as network,
    {{ dbt.cast('organic_counterpart', dbt.type_string()) }} as organic_counterpart,
    coalesce(reports_reach, false) as reports_reach,
    coalesce(reports_video_quartiles, false) as reports_video_quartiles

from {{ ref('platform_catalog') }}

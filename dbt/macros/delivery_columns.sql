{#- Typed delivery measures and their ratios, shared by the campaign- and ad-level performance facts: the
    same units and definitions at both grains, which is what lets an ad's rows add up to its campaign's.
    Each macro expects the columns it names, in local currency and USD, from the model's last CTE. -#}

{% macro cycle_delivery_measures() -%}
    {{ dbt.cast('spend', cycle_type_double()) }} as spend,
    {{ dbt.cast('spend_usd', cycle_type_double()) }} as spend_usd,
    {{ dbt.cast('impressions', dbt.type_bigint()) }} as impressions,
    {{ dbt.cast('clicks', dbt.type_bigint()) }} as clicks,
    {{ dbt.cast('conversions', cycle_type_double()) }} as conversions,
    {{ dbt.cast('conversion_value_usd', cycle_type_double()) }} as conversion_value_usd,
    {{ dbt.cast('reach', dbt.type_bigint()) }} as reach,
    {{ cycle_safe_divide('impressions', 'reach') }} as frequency
{%- endmacro %}

{% macro cycle_video_quartile_views() -%}
    {{ dbt.cast('video_p25_views', dbt.type_bigint()) }} as video_p25_views,
    {{ dbt.cast('video_p50_views', dbt.type_bigint()) }} as video_p50_views,
    {{ dbt.cast('video_p75_views', dbt.type_bigint()) }} as video_p75_views,
    {{ dbt.cast('video_p100_views', dbt.type_bigint()) }} as video_p100_views
{%- endmacro %}

{% macro cycle_delivery_ratios() -%}
    {{ cycle_safe_divide('clicks', 'impressions') }} as ctr,
    {{ cycle_safe_divide('spend_usd', 'clicks') }} as cpc_usd,
    {{ cycle_safe_divide('spend_usd', 'conversions') }} as cpa_usd,
    {{ cycle_safe_divide('conversion_value_usd', 'spend_usd') }} as roas
{%- endmacro %}

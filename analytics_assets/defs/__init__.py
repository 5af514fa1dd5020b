"""Cycle's Dagster definitions, one package per stage of the loop (ingest -> transform -> ml and
analysis -> serving), each holding its assets with their jobs, schedules and sensors; ``pipeline``
holds the jobs that span them. ``analytics_assets.definitions`` merges them with the resources."""

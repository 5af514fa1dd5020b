"""Clients of the real platforms (LinkedIn, X, Reddit, TikTok, Google Ads, Meta, LinkedIn Ads), used for
every platform whose credentials are configured; the simulator stays the default for the others.

``resilience`` (rate limit, circuit breaker, retry policy), ``http`` (one client applying them),
``tokens`` (encrypted token store and OAuth refresh), ``platforms`` (one module per API),
``resources`` (the Dagster resources) and ``sync`` (fetch plans and idempotent warehouse writes).
"""

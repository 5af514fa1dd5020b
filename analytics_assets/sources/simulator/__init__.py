"""The built-in, seeded simulator of the social and ad platforms (Cycle's default source)."""

from analytics_assets.sources.simulator.anomalies import AnomalyPlan
from analytics_assets.sources.simulator.budget_response import BudgetResponsePlan
from analytics_assets.sources.simulator.core import PlatformSimulator, SimulatedDay, SimulatorConfig
from analytics_assets.sources.simulator.series_patterns import SeriesPatterns

__all__ = ["AnomalyPlan", "BudgetResponsePlan", "PlatformSimulator", "SeriesPatterns", "SimulatedDay", "SimulatorConfig"]

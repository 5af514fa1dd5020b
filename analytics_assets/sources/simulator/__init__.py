"""The built-in, seeded simulator of the social and ad platforms (Cycle's default source)."""

from analytics_assets.sources.simulator.anomalies import AnomalyPlan
from analytics_assets.sources.simulator.core import PlatformSimulator, SimulatedDay, SimulatorConfig

__all__ = ["AnomalyPlan", "PlatformSimulator", "SimulatedDay", "SimulatorConfig"]

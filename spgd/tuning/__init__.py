"""Tuning: step-size sweeps on held-out images, the choice per (dataset, task, sampler), and the
stability profile measured from the same sweep."""

from .stability import TOLERANCE_DB, profile, stability_table, stable_width
from .sweep import FACTORS, OBJECTIVE, STEP_PARAMS, Choice, SweepPoint, point_scores, select, step_param, sweep_points

__all__ = ["FACTORS", "OBJECTIVE", "STEP_PARAMS", "TOLERANCE_DB", "Choice", "SweepPoint", "point_scores", "profile",
           "select", "stability_table", "stable_width", "step_param", "sweep_points"]

"""Tuning: step-size sweeps on held-out images, the choice per (dataset, task, sampler), and the
stability profile measured from the same sweep."""

from .selection import RULE, choose, read_selected, sweep_scores, tuning_results, with_selected, write_selected
from .stability import TOLERANCE_DB, profile, stability_table, stable_width
from .sweep import (FACTORS, OBJECTIVE, STEP_PARAMS, Choice, OverlapError, SweepPoint, TuningPlan, check_disjoint,
                    point_scores, select, step_param, sweep_points, tuning_plan)

__all__ = ["FACTORS", "OBJECTIVE", "RULE", "STEP_PARAMS", "TOLERANCE_DB", "Choice", "OverlapError", "SweepPoint",
           "TuningPlan", "check_disjoint", "choose", "point_scores", "read_selected", "sweep_scores", "tuning_results",
           "with_selected", "write_selected", "profile", "select", "stability_table", "stable_width", "step_param",
           "sweep_points", "tuning_plan"]

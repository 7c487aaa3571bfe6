"""SLOs and error budgets of simulated runs: budgets and burn rates (`budget`), multi-window
burn-rate alerts and their detection figures (`alerts`), Prometheus rules in sloth's naming
(`rules`), and OpenSLO / sloth importers (`importers`).

The definitions (what counts as bad, how the window and the budget are computed, how the seed
dashboard's table is reproduced) are in `simlab.slo.budget`'s docstring.
"""

from simlab.slo.budget import ObjectiveResult, SloError, SloReport, evaluate_slos, sli_series

__all__ = ["ObjectiveResult", "SloError", "SloReport", "evaluate_slos", "sli_series"]

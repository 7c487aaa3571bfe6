"""SLOs and error budgets of simulated runs: budgets and burn rates (`budget`), multi-window
burn-rate alerts and their detection figures (`alerts`), Prometheus rules in sloth's naming
(`rules`), and OpenSLO / sloth importers (`importers`).

The definitions (what counts as bad, how the window and the budget are computed, how the seed
dashboard's table is reproduced) are in `simlab.slo.budget`'s docstring; the alerting ones in
`simlab.slo.alerts`'s.
"""

from simlab.slo.alerts import (
    AlertReport,
    AlertRule,
    Incident,
    alert_rules,
    evaluate_alerts,
    injected_incidents,
)
from simlab.slo.budget import ObjectiveResult, SloError, SloReport, evaluate_slos, sli_series
from simlab.slo.importers import ImportedSlos, SloImportError, import_openslo, import_slo_file, import_sloth
from simlab.slo.rules import prometheus_rules

__all__ = [
    "AlertReport",
    "AlertRule",
    "ImportedSlos",
    "Incident",
    "ObjectiveResult",
    "SloError",
    "SloImportError",
    "SloReport",
    "alert_rules",
    "evaluate_alerts",
    "evaluate_slos",
    "import_openslo",
    "import_slo_file",
    "import_sloth",
    "injected_incidents",
    "prometheus_rules",
    "sli_series",
]

"""The capacity report: figures as library functions (`figures`), the end-to-end build
(`build`), the load curve and the miss-ratio curve of a scenario, and PDF output (`pdf`)."""

from simlab.report.build import SECTIONS, Report, ReportSettings, build_report, default_out_dir
from simlab.report.loadcurve import LoadCurve, load_curve
from simlab.report.pdf import PdfError, render_pdf

__all__ = ["SECTIONS", "LoadCurve", "PdfError", "Report", "ReportSettings", "build_report", "default_out_dir",
           "load_curve", "render_pdf"]

"""The report as PDF, printed by headless Chromium (Debian's `chromium`).

The flags keep Chromium off the network and out of the user's profile: a throwaway
`--user-data-dir`, no background networking, component updates, sync or QUIC; `--no-sandbox`
because CI containers run as root, where Chromium refuses its sandbox.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["CHROMIUM_FLAGS", "PdfError", "find_chromium", "render_pdf"]

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-pdf-header-footer")


class PdfError(RuntimeError):
    """Chromium is missing or did not print the page."""


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise PdfError("chromium not found: install Debian's `chromium` (apt-get install chromium) for --pdf")


def render_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout_s: float = 120.0) -> Path:
    """Print `html_path` to `pdf_path` (A4, the page's print stylesheet) and return it."""
    html = Path(html_path).resolve()
    pdf = Path(pdf_path).resolve()
    exe = find_chromium()
    with tempfile.TemporaryDirectory(prefix="simlab-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", html.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"chromium did not finish printing {html} within {timeout_s:g} s") from None
    if proc.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [""]
        raise PdfError(f"chromium failed to print {html} (exit {proc.returncode}): {tail[0]}")
    return pdf

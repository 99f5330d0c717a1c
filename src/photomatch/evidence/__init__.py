"""Evidence: the report folder a reviewer reads and a court can check.

``ReportWriter`` writes ``report.html`` (the page), ``matches.jsonl`` and ``matches.csv`` (the
records), the pictures and ``manifest.json`` (digests of everything); ``check_report`` recomputes
the digests (``photomatch verify-report``).
"""

from .manifest import Difference, check as check_report
from .report import ReportWriter

__all__ = ["Difference", "ReportWriter", "check_report"]

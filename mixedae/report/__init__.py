"""The study report: one self-contained HTML page (table, deltas, costs, training curves,
one mix per method) written by the pipeline's last stage."""
from .study import write_study_report

__all__ = ['write_study_report']

"""Stage 7, evaluation: scikit-learn metrics, the printed table, learning-curve and confusion-matrix plots and
the run report (``report.md``/``report.html``).
"""

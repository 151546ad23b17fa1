"""Measurement on schema label maps + affine: canal centreline, cross-sections, compromise, grades.

Pure numpy/scipy/skimage; never touches a file format or a network.
"""

from spinedetect.measure.compromise import CompromiseResult, compromise_at
from spinedetect.measure.report import MeasureConfig, MeasurementReport, measure_labels

__all__ = ["CompromiseResult", "compromise_at", "MeasureConfig", "MeasurementReport", "measure_labels"]

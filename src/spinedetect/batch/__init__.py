"""Batch inference over folders of studies: find, segment, measure, alert, write outputs radiologists review."""

from spinedetect.batch.runner import BatchConfig, BatchResult, StudyResult, run_batch
from spinedetect.batch.studies import StudyInput, find_studies

__all__ = ["BatchConfig", "BatchResult", "StudyResult", "run_batch", "StudyInput", "find_studies"]

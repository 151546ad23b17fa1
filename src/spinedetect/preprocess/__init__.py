"""Preprocessing: canonical orientation, model spacing, intensity normalisation per modality."""

from spinedetect.preprocess.transforms import PreprocessConfig, normalise_intensity, resample_to_grid, to_model_grid

__all__ = ["PreprocessConfig", "normalise_intensity", "resample_to_grid", "to_model_grid"]

"""Spine phantom generator: procedural anatomy + metastases + epidural tumour + collapse, exact truth.

``generate_phantom(config, seed)`` returns a :class:`Phantom` (image, label map, truth); ``write_phantom``
writes NIfTI, truth.json and DICOM. Same seed and config give byte-identical outputs.
"""

from spinedetect.phantom.config import (LEVEL_NAMES, AnatomyConfig, ImagingConfig, LesionSpec, PathologyConfig,
                                        PhantomConfig)
from spinedetect.phantom.generator import Phantom, generate_phantom
from spinedetect.phantom.truth import LesionTruth, LevelTruth, PhantomTruth
from spinedetect.phantom.writer import write_phantom

__all__ = ["LEVEL_NAMES", "AnatomyConfig", "ImagingConfig", "LesionSpec", "PathologyConfig", "PhantomConfig",
           "Phantom", "generate_phantom", "LesionTruth", "LevelTruth", "PhantomTruth", "write_phantom"]

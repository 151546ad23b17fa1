"""Image input: the only step that knows DICOM. Produces :class:`Volume` objects in RAS+.

``load_volume`` reads a DICOM folder or file, NIfTI, MetaImage or NRRD; ``discover_series`` lists the
image series under a folder; ``select_series`` picks the one inference reads; ``write_nifti`` writes
a volume atomically. Settings (limits, assembly tolerances, selection rule) live in configs/io.yaml.

Hostile or damaged input is refused before it does harm, with an :class:`~spinedetect.errors.InputError`
(or, during discovery, a "skipped" entry with the reason): sizes and element lengths are checked against
the file and ``InputLimits`` before anything is allocated, compressed input (deflated DICOM, NIfTI
voxel bytes) against ``max_decompressed_bytes``, symbolic links and header paths never lead out of the
input tree, and implausible geometry (non-finite, beyond +-1e6 mm, singular) is refused. Voxel values
(io.values): NaN/inf voxels of a float image are replaced by its lowest finite value and noted in
``Volume.notes``; an image with no finite voxel or one value everywhere (blank) is refused; a DICOM
rescale that overflows float32 is refused. Later steps therefore never see NaN. Modality (io.modality):
the header's (DICOM, MetaImage), else inferred from the voxel values by one stated rule, or the user's.
benchmarks/fuzz_input.py fuzzes all of this.
"""

from spinedetect.io.dicom import (Discovery, SeriesInfo, StudyInfo, discover_series, load_series, read_series_headers,
                                  select_series)
from spinedetect.io.formats import load_itk, load_nifti, write_nifti
from spinedetect.io.grid import index_map, plane_voxel_coords, reorient_onto
from spinedetect.io.load import load_volume
from spinedetect.io.modality import ModalityGuess, modality_from_values, settle_modality
from spinedetect.io.settings import AssemblyRules, InputLimits, IOConfig, Orientation, SeriesRule
from spinedetect.io.volume import SourceIds, Volume

__all__ = ["Volume", "SourceIds", "load_volume", "discover_series", "load_series", "select_series", "write_nifti",
           "load_nifti", "load_itk", "InputLimits", "AssemblyRules", "SeriesRule", "IOConfig", "Orientation",
           "Discovery", "StudyInfo", "SeriesInfo", "index_map", "reorient_onto", "plane_voxel_coords",
           "ModalityGuess", "modality_from_values", "settle_modality"]

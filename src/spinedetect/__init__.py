"""spinedetect: spinal metastasis and canal-compromise detection on spine MRI and CT.

Data flow (one owner per step, see the README and DESIGN notes)::

    io -> preprocess -> model -> postprocess -> measure -> alert -> outputs

Arrays in memory are indexed (x, y, z) with a 4x4 affine mapping voxel indices to RAS+ world
millimetres. DICOM (LPS on disk) is only known to :mod:`spinedetect.io`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

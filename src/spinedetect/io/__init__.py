"""Image input: the only step that knows DICOM. Produces :class:`Volume` objects in RAS+."""

from spinedetect.io.volume import SourceIds, Volume

__all__ = ["Volume", "SourceIds"]

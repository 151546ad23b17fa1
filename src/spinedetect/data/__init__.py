"""Dataset adapters: each yields cases (image, source label map, LabelMapping) from one data source."""

from spinedetect.data.base import Case, DatasetAdapter, read_image
from spinedetect.data.phantoms import PhantomDataset
from spinedetect.data.public import SpiderDataset, TotalSegmentatorDataset, VerseDataset
from spinedetect.data.shared import RealCordDataset, RealCtDataset, RealMriVbDataset
from spinedetect.data.splits import check_split, load_split

__all__ = ["Case", "DatasetAdapter", "read_image", "PhantomDataset", "SpiderDataset", "TotalSegmentatorDataset",
           "VerseDataset", "RealCordDataset", "RealCtDataset", "RealMriVbDataset", "check_split", "load_split"]

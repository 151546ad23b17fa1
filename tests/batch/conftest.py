"""Phantom DICOM studies, a stand-in model that returns the phantom's true labels, and the shipped model.

The stand-in makes these tests about the batch machinery (discovery, outputs, statuses, reruns,
geometry of SEG/overlays), not about a model's accuracy; one test runs a real Predictor too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from spinedetect.io import Volume
from spinedetect.phantom import PhantomConfig, generate_phantom, write_phantom
from spinedetect.phantom.config import AnatomyConfig, ImagingConfig, LesionSpec, PathologyConfig

SMALL = PhantomConfig(
    anatomy=AnatomyConfig(first_level="T12", last_level="S1"),
    imaging=ImagingConfig(sagittal_spacing_mm=(1.2, 1.2, 4.0), axial_spacing_mm=(1.2, 1.2, 4.0),
                          sagittal_lr_coverage_mm=60.0),
)

CASES = {
    "urgent": PathologyConfig(lesions=(LesionSpec(level="T12", bilsky="3", radius_mm=9.0),)),
    "watch": PathologyConfig(lesions=(LesionSpec(level="L3", bilsky=None, genant=0, radius_mm=7.0),)),
    "clean": PathologyConfig(p_clean=1.0),
}


class TruthModel:
    """Returns the true label map of whichever phantom shares the input's frame of reference."""

    def __init__(self, truths: dict[str, Path]) -> None:
        self.truths = {k: nib.load(p) for k, p in truths.items()}
        self.calls = 0

    def predict(self, volume: Volume) -> Volume:
        self.calls += 1
        img = self._match(volume)
        inv = np.linalg.inv(img.affine)
        ijk = np.indices(volume.shape).reshape(3, -1).T
        world = ijk @ volume.affine[:3, :3].T + volume.affine[:3, 3]
        src = np.rint(world @ inv[:3, :3].T + inv[:3, 3]).astype(int)
        data = np.asarray(img.dataobj)
        inside = np.all((src >= 0) & (src < data.shape), axis=1)
        out = np.zeros(len(src), dtype=np.uint8)
        out[inside] = data[src[inside, 0], src[inside, 1], src[inside, 2]]
        return Volume(out.reshape(volume.shape), volume.affine.copy(), modality=volume.modality, source=volume.source)

    def _match(self, volume: Volume):
        for img in self.truths.values():
            if img.shape == volume.shape or np.allclose(np.abs(np.linalg.det(img.affine)),
                                                        np.abs(np.linalg.det(volume.affine))):
                centre = volume.affine @ np.r_[(np.array(volume.shape) - 1) / 2, 1]
                c2 = img.affine @ np.r_[(np.array(img.shape) - 1) / 2, 1]
                if np.linalg.norm(centre[:3] - c2[:3]) < 1.0:
                    return img
        raise ValueError("no phantom matches this volume")

    def provenance(self) -> dict:
        return {"model_sha256": "truth-model", "source": "tests", "step": 0}


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A copy of the shipped default model (0.6 MB) with its .sha256 sidecar.

    A trained model keeps these machinery tests fast: an untrained network labels noise as hundreds of
    "vertebrae" and thousands of "lesions", whose measurement and SR dominate every run.
    """
    import shutil

    from spinedetect.model import default_checkpoint

    shipped = default_checkpoint()
    if shipped is None:
        pytest.skip("the shipped default model (src/spinedetect/model/weights/default.pt) is not installed")
    path = tmp_path_factory.mktemp("model") / "default.pt"
    shutil.copyfile(shipped, path)
    shutil.copyfile(shipped.with_name(shipped.name + ".sha256"), path.with_name(path.name + ".sha256"))
    return path


@pytest.fixture(scope="session")
def phantom_batch(tmp_path_factory) -> tuple[Path, dict[str, Path], dict[str, dict]]:
    """INPUT folder: urgent, watch and clean DICOM studies, a corrupt file, an SR object, an empty folder."""
    root = tmp_path_factory.mktemp("batch")
    inp = root / "input"
    truths, truth_json = {}, {}
    for n, (name, pathology) in enumerate(CASES.items()):
        ph = generate_phantom(replace(SMALL, pathology=pathology), seed=11 + n)
        paths = write_phantom(ph, root / "phantoms" / name, formats=("nifti", "dicom"))
        (inp / f"site{n}" / "exam").mkdir(parents=True)
        for f in sorted(paths["dicom"].glob("*.dcm")):
            (inp / f"site{n}" / "exam" / f"IMG{f.stem[-4:]}").write_bytes(f.read_bytes())
        truths[name] = paths["labels"]
        truth_json[name] = ph.truth.to_dict()
    (inp / "empty").mkdir()
    first = next((inp / "site0" / "exam").iterdir())
    (inp / "junk").mkdir()
    (inp / "junk" / "broken.dcm").write_bytes(first.read_bytes()[:700])
    (inp / "junk" / "notes.txt").write_text("not an image")
    _write_sr_object(inp / "junk" / "report.dcm", first)
    return inp, truths, truth_json


def _write_sr_object(path: Path, like: Path) -> None:
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(like)
    del ds.PixelData
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.Modality = "SR"
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["sr"])
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["sr-sop"])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path)

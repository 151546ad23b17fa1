"""Finding the studies of a batch under an input folder (DICOM studies and NIfTI/MHA/NRRD files).

A study's key is derived from identifiers only (a hash of the StudyInstanceUID, or of the file's path
relative to the input), never from patient names, so output folder names leak no identity. A study whose
headers leave the StudyInstanceUID blank is keyed by the UID discovery derives from its folder and header
facts (spinedetect.io.dicom), so two such studies never share a key.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from spinedetect.errors import InputError
from spinedetect.io import IOConfig, SeriesInfo, StudyInfo, discover_series, select_series
from spinedetect.io.formats import ITK_SUFFIXES, NIFTI_SUFFIXES, has_suffix

__all__ = ["StudyInput", "SkippedInput", "LABEL_FILE_PATTERNS", "find_studies", "file_key"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyInput:
    """One study to process: a DICOM study (``study`` + chosen ``series``) or one image file (``path``)."""

    key: str
    source: str
    study: StudyInfo | None = None
    series: SeriesInfo | None = None
    path: Path | None = None
    problem: str | None = None

    @property
    def is_dicom(self) -> bool:
        return self.study is not None


@dataclass(frozen=True)
class SkippedInput:
    """A file or folder that holds no study, with the reason (for manifest.json)."""

    source: str
    reason: str


def file_key(relative: str) -> str:
    """Output key of an image file: a hash of its path relative to the input (file names may hold names)."""
    return "file-" + hashlib.sha256(relative.encode("utf-8")).hexdigest()[:12]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or path.name
    except ValueError:
        return path.name


#: Image files whose names match these (case-insensitive) are label maps, not studies.
LABEL_FILE_PATTERNS: tuple[str, ...] = ("*label*", "*_seg*", "*seg-*", "*mask*", "*_msk*")


def find_studies(input_path: str | Path, *, io_config: IOConfig = IOConfig(),
                 label_patterns: tuple[str, ...] = LABEL_FILE_PATTERNS) -> tuple[list[StudyInput], list[SkippedInput]]:
    """Studies under ``input_path`` (a folder tree or one image file), sorted by key, and what was skipped.

    Every DICOM study gets its series chosen by ``io_config``'s selection rule; a study with no usable
    series is returned with ``problem`` set (it is reported as failed, not silently dropped). NIfTI/MHA/
    NRRD files are one study each, except names matching ``label_patterns`` (skipped as label maps).
    """
    root = Path(input_path)
    if not root.exists():
        raise InputError(f"Input {root} does not exist", expected="a folder of studies or an image file",
                         found="no such path")
    image_suffixes = NIFTI_SUFFIXES + ITK_SUFFIXES
    if root.is_file():
        if has_suffix(root, image_suffixes):
            return [StudyInput(file_key(root.name), root.name, path=root)], []
        base = root.parent
        found = discover_series(base, limits=io_config.limits, rules=io_config.assembly)
        studies = [s for s in found.studies if any(root.resolve() in {f.resolve() for f in se.files} for se in s.series)]
    else:
        base = root
        found = discover_series(root, limits=io_config.limits, rules=io_config.assembly)
        studies = found.studies
    inputs: list[StudyInput] = []
    skipped: list[SkippedInput] = []
    file_paths: set[Path] = set()
    if root.is_dir():
        for dirpath, _dirs, names in os.walk(root, followlinks=False):
            for name in names:
                p = Path(dirpath) / name
                if has_suffix(p, image_suffixes) and not p.is_symlink():
                    file_paths.add(p)
                    rel = _relative(p, root)
                    if any(fnmatch.fnmatch(name.lower(), pat) for pat in label_patterns):
                        skipped.append(SkippedInput(rel, "looks like a label map (file name), not an image"))
                    else:
                        inputs.append(StudyInput(file_key(rel), rel, path=p))
    for path, reason in found.skipped:
        if Path(path) not in file_paths:
            skipped.append(SkippedInput(_relative(Path(path), base), reason))
    for study in studies:
        source = _relative(Path(study.series[0].files[0]).parent, base) if study.series and study.series[0].files else study.key
        try:
            series = select_series(study, io_config.selection)
        except InputError as exc:
            inputs.append(StudyInput(study.key, source, study=study, problem=str(exc)))
            continue
        inputs.append(StudyInput(study.key, source, study=study, series=series))
    inputs.sort(key=lambda s: s.key)
    keys = [s.key for s in inputs]
    if len(set(keys)) != len(keys):
        raise InputError("Two inputs map to the same study key", expected="distinct studies",
                         found=", ".join(sorted({k for k in keys if keys.count(k) > 1})))
    log.info("found %d studies (%d inputs skipped) under %s", len(inputs), len(skipped), root)
    return inputs, skipped

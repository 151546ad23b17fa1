"""The real-scan evaluation: every real spine image of the shared data through ``spinedetect infer``.

None of these scans shows a metastasis, an epidural tumour or a cord compression, so every lesion,
tumour, urgent or watch alert on them is a false positive. Where the data carry labels, the same run
scores vertebral-body / vertebra / cord Dice and level naming against the known levels.

The catalogue (:func:`real_catalogue`) follows the data's README: which image, which modality, which
label file says what. :func:`stage_inputs` copies each image into its own folder under a neutral name
(the batch skips files whose names look like label maps, and reads one study per folder);
:func:`score_study` scores one study's outputs; :func:`summarise` adds them up.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Sequence

import nibabel as nib
import numpy as np
from scipy import ndimage

from spinedetect.errors import InputError
from spinedetect.evaluate.core import load_label_volume
from spinedetect.evaluate.segmentation import evaluate_segmentation, union_key
from spinedetect.evaluate.truth_sources import TRUTH_MAPPINGS, TruthFormat
from spinedetect.labels import Label, LabelMapping

__all__ = ["LevelSource", "RealStudy", "StudyScore", "real_catalogue", "known_levels", "stage_inputs",
           "score_study", "summarise", "render_markdown", "records_by_study", "evaluate_real",
           "TPTBOX_SUBREG_MAPPING", "LEVEL_MATCH_MM"]

_VERTEBRA = (Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.OSSEOUS_LESION)

#: TPTBox / SPINEPS subregion values onto the schema (whole vertebra, cord, CSF, disc).
TPTBOX_SUBREG_MAPPING = LabelMapping("tptbox-subreg", {**{v: _VERTEBRA for v in (*range(41, 51), 62)},
                                                       60: (Label.CORD,), 61: (Label.CSF,),
                                                       100: (Label.DISC,)})

#: A known vertebra is matched to the predicted level whose body centre lies nearest, within this (mm).
LEVEL_MATCH_MM = 15.0

_LEVELS = ([f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 7)]
           + ["S1"])
#: TotalSegmentator CT vertebra values (the data's README): 26 S1, 27 L5 ... 33 T11 (25, the sacrum, is not a level).
_TOTALSEG_CT_LEVELS = {26: "S1", 27: "L5", 28: "L4", 29: "L3", 30: "L2", 31: "L1", 32: "T12", 33: "T11"}


class LevelSource(str, Enum):
    """How the known levels of a study are read from its label file."""

    VB_IDS_L1_L5 = "ids 1..5 are L1..L5"
    VB_SORTED_T11_L5 = "bodies superior to inferior are T11..L5"
    TOTALSEG_CT = "TotalSegmentator CT vertebra values"
    CORD_LEVELS = "cord voxels carry their vertebral level (2..5 = C2..C5)"
    TPTBOX_VERT = "TPTBox vert values (1-7 C1-C7, 8-19 T1-T12, 20-25 L1-L6, 26 S1)"


@dataclass(frozen=True)
class RealStudy:
    """One real study: its image (a file or a DICOM folder), modality, and the label files that say what.

    ``segmentation`` pairs label files with the mapping their values are read through (Dice);
    ``levels`` is the label file whose values name vertebrae, with how to read it.
    """

    name: str
    collection: str
    modality: str
    image: Path
    segmentation: tuple[tuple[Path, LabelMapping], ...] = ()
    levels: tuple[Path, LevelSource] | None = None
    body_mask: Path | None = None  # restricts level centroids to the body where the level file is whole vertebrae


def _vb_cases(root: Path) -> list[RealStudy]:
    out = []
    for img in sorted((root / "real-mri-vb").glob("*_img.nii.gz")):
        case = img.name[: -len("_img.nii.gz")]
        vb = img.with_name(f"{case}_vb.nii.gz")
        source = {"VB3": LevelSource.VB_IDS_L1_L5, "VB2": LevelSource.VB_SORTED_T11_L5}.get(case[:3])
        out.append(RealStudy(case, "real-mri-vb", "MR", img, ((vb, TRUTH_MAPPINGS[TruthFormat.REAL_MRI_VB]),),
                             (vb, source) if source is not None else None))
    return out


def _ct_cases(root: Path) -> list[RealStudy]:
    d = root / "real-ct"
    ct_map, mr_map = TRUTH_MAPPINGS[TruthFormat.TOTALSEG_CT], TRUTH_MAPPINGS[TruthFormat.TOTALSEG_MR]
    spec = (("example_ct", d / "example_ct.nii.gz", "CT", ct_map, True),
            ("example_ct_dicom", d / "example_ct_dicom", "CT", ct_map, True),
            ("example_mr_sm", d / "example_mr_sm.nii.gz", "MR", mr_map, False))
    out = []
    for name, image, modality, mapping, named in spec:
        labels = d / f"{name}_spine_labels.nii.gz"
        if image.exists() and labels.is_file():
            out.append(RealStudy(name, "real-ct", modality, image, ((labels, mapping),),
                                 (labels, LevelSource.TOTALSEG_CT) if named else None))
    return out


def _cord_cases(root: Path) -> list[RealStudy]:
    d = root / "real-cord"
    cord_map = TRUTH_MAPPINGS[TruthFormat.REAL_CORD]
    out = []
    for name in ("sct_t2", "sct_t1w"):
        seg, lab = d / f"{name}_seg-manual.nii.gz", d / f"{name}_seg-manual_labeled.nii.gz"
        if (d / f"{name}.nii.gz").is_file() and seg.is_file():
            out.append(RealStudy(name, "real-cord", "MR", d / f"{name}.nii.gz", ((seg, cord_map),),
                                 (lab, LevelSource.CORD_LEVELS) if lab.is_file() else None))
    return out


def _tptbox_cases(root: Path) -> list[RealStudy]:
    d = root / "real-tptbox"
    out = []
    for name, image, stem in (("tptbox_mri", "sub-mri_label-6_T2w.nii.gz", "sub-mri"),
                              ("tptbox_ct", "sub-ct_label-22_ct.nii.gz", "sub-ct")):
        label = "6" if stem == "sub-mri" else "22"
        subreg, vert = d / f"{stem}_seg-subreg_label-{label}_msk.nii.gz", d / f"{stem}_seg-vert_label-{label}_msk.nii.gz"
        if (d / image).is_file() and subreg.is_file() and vert.is_file():
            out.append(RealStudy(name, "real-tptbox", "CT" if stem == "sub-ct" else "MR", d / image,
                                 ((subreg, TPTBOX_SUBREG_MAPPING),), (vert, LevelSource.TPTBOX_VERT), subreg))
    return out


def real_catalogue(root: str | Path) -> list[RealStudy]:
    """Every real spine study under ``root`` (the shared data folder) that is present, in a fixed order."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"Real-data folder {root} does not exist", expected="the shared data folder with "
                         "real-mri-vb/, real-ct/, real-cord/, real-unlabelled/, real-tptbox/",
                         found="nothing at that path" if not root.exists() else "a file",
                         hint="Pass the folder, e.g. --real ../shared/data")
    studies = _vb_cases(root) + _ct_cases(root) + _cord_cases(root) + _tptbox_cases(root)
    lumbar = root / "real-unlabelled" / "sct_t2_lumbar.nii.gz"
    if lumbar.is_file():
        studies.append(RealStudy("sct_t2_lumbar", "real-unlabelled", "MR", lumbar))
    if not studies:
        raise InputError(f"No real studies under {root}", expected="the layout of the shared data README",
                         found="none of its image files", hint="Pass the shared data folder itself")
    return studies


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    img = nib.load(str(path))
    return np.rint(np.asanyarray(img.dataobj)).astype(np.int32), img.affine


def _centroids(values: np.ndarray, affine: np.ndarray, names: dict[int, str]) -> dict[str, np.ndarray]:
    """World (RAS mm) centroid of the voxels of each value in ``names``, keyed by the name."""
    present = [v for v in names if np.any(values == v)]
    if not present:
        return {}
    ijk = ndimage.center_of_mass(np.ones(values.shape), values, present)
    return {names[v]: (affine @ np.r_[c, 1.0])[:3] for v, c in zip(present, ijk)}


def known_levels(study: RealStudy) -> dict[str, np.ndarray]:
    """Known vertebral levels of ``study``: name -> world centroid (RAS mm) of that vertebra's body.

    For cord-level files the centroid is that of the cord voxels of the level (the vertebra lies in
    front of it at the same height). Empty where the data say nothing about levels.
    """
    if study.levels is None:
        return {}
    path, source = study.levels
    values, affine = _read(path)
    if source is LevelSource.VB_IDS_L1_L5:
        return _centroids(values, affine, {i: f"L{i}" for i in range(1, 6)})
    if source is LevelSource.VB_SORTED_T11_L5:
        ids = [int(v) for v in np.unique(values) if v > 0]
        cents = _centroids(values, affine, {i: str(i) for i in ids})
        order = sorted(ids, key=lambda i: -cents[str(i)][2])  # RAS: superior first
        names = ["T11", "T12", "L1", "L2", "L3", "L4", "L5"]
        if len(order) != len(names):
            raise InputError(f"{path.name} holds {len(order)} bodies", expected="7 bodies (T11..L5)",
                             found=f"{len(order)}", hint="Check the data's README for this collection")
        return {names[k]: cents[str(i)] for k, i in enumerate(order)}
    if source is LevelSource.TOTALSEG_CT:
        return _centroids(values, affine, _TOTALSEG_CT_LEVELS)
    if source is LevelSource.CORD_LEVELS:
        return _centroids(values, affine, {i: f"C{i}" for i in range(1, 8)})
    vert = np.where(values >= 200, values - 200, np.where(values >= 100, 0, values))
    if study.body_mask is not None:
        subreg, _ = _read(study.body_mask)
        vert = np.where(np.isin(subreg, (49, 50, 62)), vert, 0)
    names = {i + 1: name for i, name in enumerate(_LEVELS[:-1])} | {26: "S1", 28: "T13"}
    return _centroids(vert, affine, names)


def stage_inputs(studies: Sequence[RealStudy], folder: Path) -> None:
    """Copy each study's image into ``folder/<name>/`` (the study's name is its input folder) under a neutral file name.

    The batch reads one study per image file or DICOM series, and skips files whose names look like
    label maps (TPTBox images carry "label" in their names), so every image gets its own plain name.
    """
    if folder.exists():
        shutil.rmtree(folder)
    for st in studies:
        dest = folder / st.name
        if st.image.is_dir():
            shutil.copytree(st.image, dest)
        else:
            dest.mkdir(parents=True)
            suffix = "".join(st.image.suffixes[-2:]) if st.image.name.endswith(".gz") else st.image.suffix
            shutil.copyfile(st.image, dest / f"image{suffix}")


@dataclass
class StudyScore:
    """What one real study's outputs show (every lesion, tumour and alert here is a false positive)."""

    name: str
    collection: str
    status: str
    alert: str | None = None
    reasons: list[str] = field(default_factory=list)
    lead_level: str | None = None
    lead_canal_compromise_pct: float | None = None
    lesion_pieces: int = 0
    lesion_mm3: float = 0.0
    tumour_pieces: int = 0
    tumour_mm3: float = 0.0
    reported_lesions: int = 0
    levels_known: int = 0
    levels_found: int = 0
    levels_right: int = 0
    levels_unnamed: int = 0
    levels_wrong_unmarked: int = 0
    level_pairs: list[tuple[str, str | None]] = field(default_factory=list)
    naming_rule: str | None = None
    naming_confidence: float | None = None
    dice: dict[str, float | None] = field(default_factory=dict)
    seconds: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pieces(labels: np.ndarray, value: int, voxel_mm3: float) -> tuple[int, float]:
    """26-connected pieces of class ``value`` and their total volume (mm³)."""
    mask = labels == value
    if not mask.any():
        return 0, 0.0
    _, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    return int(n), round(float(mask.sum() * voxel_mm3), 1)


#: Level files whose centroids are not the body's (whole vertebrae, cord): matched by height alone.
_LEVELS_BEHIND_BODY = (LevelSource.TOTALSEG_CT, LevelSource.CORD_LEVELS)


def _match_levels(known: dict[str, np.ndarray], levels: list[dict[str, Any]], by_height: bool
                  ) -> list[tuple[str, str | None]]:
    """(known name, predicted name or None) per known vertebra: the predicted body centre nearest to it.

    ``by_height`` compares only the superior-inferior coordinate (for truth centroids that lie behind the
    body: whole vertebrae, cord levels).
    """
    centres = [(lv["name"], np.asarray(lv["body_center_mm"], dtype=float)) for lv in levels
               if lv.get("body_center_mm") is not None]
    pairs: list[tuple[str, str | None]] = []
    for name, c in known.items():
        best, dist = None, LEVEL_MATCH_MM
        for pred, pc in centres:
            d = abs(pc[2] - c[2]) if by_height else float(np.linalg.norm(pc - c))
            if d <= dist:
                best, dist = pred, d
        pairs.append((name, best))
    return pairs


def _dice(study: RealStudy, labels: np.ndarray, affine: np.ndarray) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for path, mapping in study.segmentation:
        truth, t_aff = _read(path)
        if mapping is TRUTH_MAPPINGS[TruthFormat.REAL_CORD]:
            truth = (truth > 0).astype(np.int32)  # the labelled variant carries levels, the manual mask 1
        scores = evaluate_segmentation(labels, affine, truth, t_aff, mapping)
        for union in mapping.unions():
            s = scores.classes[union_key(union)]
            out[union_key(union)] = None if s.status == "absent" else round(float(s.dice), 4)
    return out


def _is_generic(name: str) -> bool:
    """V1..Vn: the pipeline numbered the bodies without naming them (no anchor): not a wrong name."""
    return re.fullmatch(r"V\d+", name) is not None


def _strip_mark(name: str | None) -> str | None:
    return name.rstrip("?") if name else name


def score_study(study: RealStudy, folder: Path | None, record: dict[str, Any] | None) -> StudyScore:
    """Score one study from its output ``folder`` (labels.nii.gz, report.json) and its study.json ``record``."""
    sc = StudyScore(study.name, study.collection, "missing" if record is None else record.get("status", "?"))
    if record is None or folder is None or sc.status != "ok":
        sc.error = None if record is None else record.get("error")
        return sc
    report = json.loads((folder / "report.json").read_text())
    vol = load_label_volume(folder / "labels.nii.gz")
    labels, affine = np.asarray(vol.array), vol.affine
    voxel = float(abs(np.linalg.det(affine[:3, :3])))
    alert = report.get("alert") or {}
    sc.alert, sc.reasons, sc.lead_level = alert.get("level"), list(alert.get("reasons", [])), alert.get("worst_level")
    lead = next((lv for lv in report.get("levels", []) if lv.get("name") == sc.lead_level), None)
    sc.lead_canal_compromise_pct = lead.get("canal_compromise_pct") if lead else None
    sc.lesion_pieces, sc.lesion_mm3 = _pieces(labels, Label.OSSEOUS_LESION, voxel)
    sc.tumour_pieces, sc.tumour_mm3 = _pieces(labels, Label.EPIDURAL_TUMOUR, voxel)
    sc.reported_lesions = len(report.get("lesions", []))
    naming = report.get("naming") or {}
    sc.naming_rule, sc.naming_confidence = naming.get("rule"), naming.get("confidence")
    known = known_levels(study)
    if known:
        by_height = study.levels is not None and study.levels[1] in _LEVELS_BEHIND_BODY
        sc.level_pairs = _match_levels(known, report.get("levels", []), by_height)
        sc.levels_known = len(sc.level_pairs)
        sc.levels_found = sum(p is not None for _, p in sc.level_pairs)
        sc.levels_right = sum(_strip_mark(p) == k for k, p in sc.level_pairs)
        sc.levels_unnamed = sum(p is not None and _is_generic(p) for _, p in sc.level_pairs)
        sc.levels_wrong_unmarked = sum(p is not None and not _is_generic(p) and _strip_mark(p) != k
                                       and not p.endswith("?") for k, p in sc.level_pairs)
    sc.dice = _dice(study, labels, affine)
    sc.seconds = record.get("seconds")
    return sc


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def summarise(scores: Sequence[StudyScore]) -> dict[str, Any]:
    """Totals over the studies: alerts, false lesions/tumour, level naming, mean Dice per collection and class."""
    ok = [s for s in scores if s.status == "ok"]
    dice: dict[str, list[float]] = {}
    for s in ok:
        for k, v in s.dice.items():
            if v is not None:
                dice.setdefault(f"{s.collection}: {k}", []).append(v)
    known = sum(s.levels_known for s in ok)
    right = sum(s.levels_right for s in ok)
    return {
        "studies": len(scores), "ok": len(ok), "failed": len(scores) - len(ok),
        "urgent": sum(s.alert == "urgent" for s in ok), "watch": sum(s.alert == "watch" for s in ok),
        "none": sum(s.alert == "none" for s in ok),
        "studies_with_lesion": sum(s.lesion_pieces > 0 for s in ok),
        "studies_with_tumour": sum(s.tumour_pieces > 0 for s in ok),
        "studies_with_lesion_or_tumour": sum(s.lesion_pieces + s.tumour_pieces > 0 for s in ok),
        "lesion_pieces": sum(s.lesion_pieces for s in ok), "lesion_mm3": round(sum(s.lesion_mm3 for s in ok), 1),
        "tumour_pieces": sum(s.tumour_pieces for s in ok), "tumour_mm3": round(sum(s.tumour_mm3 for s in ok), 1),
        "levels_known": known, "levels_found": sum(s.levels_found for s in ok), "levels_right": right,
        "levels_right_pct": round(100.0 * right / known, 1) if known else None,
        "levels_by_collection": {c: [sum(s.levels_right for s in ok if s.collection == c),
                                     sum(s.levels_known for s in ok if s.collection == c)]
                                 for c in sorted({s.collection for s in ok if s.levels_known})},
        "levels_unnamed": sum(s.levels_unnamed for s in ok),
        "levels_wrong_unmarked": sum(s.levels_wrong_unmarked for s in ok),
        "dice_mean": {k: _mean(v) for k, v in sorted(dice.items())},
        "dice_n": {k: len(v) for k, v in sorted(dice.items())},
        "seconds_total": round(sum(s.seconds or 0.0 for s in ok), 1),
        "seconds_mean": _mean([s.seconds for s in ok if s.seconds is not None]),
    }


def _f(x: object, nd: int = 1) -> str:
    if x is None:
        return "–"
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def render_markdown(scores: Sequence[StudyScore], totals: dict[str, Any]) -> str:
    """The per-study table and the totals as Markdown (real_scans.md)."""
    t = totals
    lines = ["# Real-scan evaluation", "",
             "Every study is free of metastasis and cord compression: every lesion, tumour, urgent or watch "
             "alert is a false positive.", "",
             f"- studies: {t['studies']} ({t['failed']} failed); alerts: **{t['urgent']} urgent, {t['watch']} "
             f"watch**, {t['none']} none",
             f"- false osseous lesion: {t['lesion_pieces']} pieces, {t['lesion_mm3']:.0f} mm³ in "
             f"{t['studies_with_lesion']} studies; false epidural tumour: {t['tumour_pieces']} pieces, "
             f"{t['tumour_mm3']:.0f} mm³ in {t['studies_with_tumour']} studies",
             f"- level naming: {t['levels_right']} of {t['levels_known']} known vertebrae right "
             f"({_f(t['levels_right_pct'])} %), {t['levels_found']} found, {t['levels_unnamed']} left unnamed "
             f"(V1..Vn), {t['levels_wrong_unmarked']} wrong names not marked uncertain",
             f"- time: {_f(t['seconds_total'])} s in all, {_f(t['seconds_mean'], 2)} s per study", "",
             "| mean Dice | n | Dice |", "|---|---|---|"]
    lines += [f"| {k} | {t['dice_n'][k]} | {_f(v, 3)} |" for k, v in t["dice_mean"].items()]
    lines += ["", "| study | alert | lead level | canal % | lesion pieces / mm³ | tumour pieces / mm³ | "
              "levels right / known | Dice | s | reasons |", "|" + "---|" * 10]
    for s in scores:
        dice = ", ".join(f"{k.split('+')[0]} {_f(v, 2)}" for k, v in s.dice.items())
        reasons = "; ".join(s.reasons)[:160] if s.status == "ok" else (s.error or s.status)
        lines.append(f"| {s.name} | {s.alert or s.status} | {s.lead_level or '–'} | "
                     f"{_f(s.lead_canal_compromise_pct)} | {s.lesion_pieces} / {s.lesion_mm3:.0f} | "
                     f"{s.tumour_pieces} / {s.tumour_mm3:.0f} | "
                     f"{f'{s.levels_right} / {s.levels_known}' if s.levels_known else '–'} | {dice or '–'} | "
                     f"{_f(s.seconds, 2)} | {reasons} |")
    return "\n".join(lines) + "\n"


def records_by_study(infer_dir: Path, names: Sequence[str]) -> dict[str, tuple[Path | None, dict | None]]:
    """study name -> (its output folder, its study.json or failure record) from the batch's manifest."""
    manifest = json.loads((infer_dir / "manifest.json").read_text())
    by_folder: dict[str, tuple[Path | None, dict | None]] = {}
    for entry in manifest.get("studies", []):
        top = Path(entry["source"]).parts[0]
        study_json = infer_dir / entry["key"] / "study.json"
        if entry["status"] == "ok" and study_json.is_file():
            by_folder[top] = (infer_dir / entry["key"], json.loads(study_json.read_text()))
        else:
            by_folder[top] = (None, entry)
    return {name: by_folder.get(name, (None, None)) for name in names}


def evaluate_real(root: str | Path, out: Path, run_infer: Callable[[Path, Path], int] | None,
                  select: Callable[[RealStudy], bool] = lambda s: True) -> tuple[list[StudyScore], dict[str, Any]]:
    """Stage the real studies, run ``run_infer(input_dir, infer_dir)`` on them as one batch, score and write.

    Writes ``out/real_scans.json`` and ``out/real_scans.md``; the batch's own outputs (review page
    included) stay in ``out/infer``. With ``run_infer`` None the outputs of an earlier run in
    ``out/infer`` are scored again (a change to the scoring, not to the pipeline).
    """
    studies = [s for s in real_catalogue(root) if select(s)]
    if not studies:
        raise InputError("No real study matches the selection", expected="at least one study",
                         found="none", hint="Check --studies")
    infer_dir = out / "infer"
    if run_infer is None:
        if not (infer_dir / "manifest.json").is_file():
            raise InputError(f"No earlier run in {infer_dir}", expected="infer/manifest.json of an earlier "
                             "'spinedetect evaluate --real' run", found="none",
                             hint="Run without --rescore first")
    else:
        stage_inputs(studies, out / "input")
        if infer_dir.exists():
            shutil.rmtree(infer_dir)
        run_infer(out / "input", infer_dir)
    records = records_by_study(infer_dir, [st.name for st in studies])
    scores = [score_study(st, *records[st.name]) for st in studies]
    totals = summarise(scores)
    doc = {"totals": totals, "studies": [s.to_dict() for s in scores],
           "rule": "every real study is metastasis-free: lesion, tumour, urgent and watch are false positives; "
                   f"a known vertebra is named right when the predicted level whose body centre lies within "
                   f"{LEVEL_MATCH_MM} mm of it (nearest) carries its name ('?' marks an uncertain name)"}
    (out / "real_scans.json").write_text(json.dumps(doc, indent=1))
    (out / "real_scans.md").write_text(render_markdown(scores, totals))
    return scores, totals

"""Batch inference: every study of an input folder through model, measurement, alert and outputs.

Output layout (OUTPUT/)::

    <study-key>/labels.nii.gz, report.json, seg.dcm, sr.dcm, overlays/*.png, study.json
    summary.csv, index.html, manifest.json, provenance.json

Nothing is half-written: a study is assembled in ``OUTPUT/.staging/<key>`` and renamed into place in
one step, with ``study.json`` written last, so a study folder exists only when complete; batch files
are written to a temporary name and renamed. A rerun skips complete studies made with the same model and
settings (``made_with`` in study.json) and redoes the rest. One
bad study never stops the batch: it is recorded (``OUTPUT/.failed/<key>.json``) and listed as failed.
An output that cannot be written (disk full, read-only or unwritable folder) stops the batch at once
with an :class:`~spinedetect.errors.OutputError` (no study is marked failed for it); after the cause is
fixed the same command completes the batch.

Each study's DICOM SEG and SR are built and encoded in a helper process (spinedetect.batch.side_process)
while this process measures the study and draws its pictures (the helper reads the source headers they
need while the model runs); every file is still written here. A SEG or SR that cannot be built leaves the
study ok (labels.nii.gz, report.json and the pictures hold its results) with the reason in study.json's
notes; only an output that cannot be written stops the batch.

Every study's modality (``BatchConfig.modality``: the header's, else inferred from the voxel values by
spinedetect.io.modality, or the one given) is what the model's intensity normalisation and the
measurement receive; ``BatchConfig.level_hint`` names the levels of every study where neither sacrum nor
conus does. Both are part of the settings fingerprint (``made_with``).
"""

from __future__ import annotations

import csv
import errno
import fcntl
import functools
import hashlib
import io as _io
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal, Protocol

import numpy as np

from spinedetect import __version__
from spinedetect.alert.rules import AlertConfig, AlertLevel
from spinedetect.atomic import atomic_write_bytes
from spinedetect.batch.side_process import SideJob, SideProcess
from spinedetect.batch.studies import SkippedInput, StudyInput, find_studies
from spinedetect.config import config_to_dict
from spinedetect.errors import ConfigError, InputError, OutputError, SpinedetectError
from spinedetect.io import IOConfig, Volume, load_series, load_volume, read_series_headers, write_nifti
from spinedetect.io.modality import settle_modality
from spinedetect.measure import MeasureConfig, measure_labels
from spinedetect.measure.levels import parse_level_hint
from spinedetect.outputs.deidentify import UIDMap
from spinedetect.outputs.dicom_encode import encode_measurement_report, encode_segmentation, prefetch_headers
from spinedetect.outputs.review_page import StudyEntry, write_review_page
from spinedetect.outputs.study_pictures import write_study_pictures

__all__ = ["BatchConfig", "StudyResult", "BatchResult", "SegmentationModel", "OutputLock", "run_batch",
           "write_text_atomic", "STUDY_FILES"]

log = logging.getLogger(__name__)

#: The files a complete study folder holds (DICOM objects only for DICOM input).
STUDY_FILES = ("labels.nii.gz", "report.json", "study.json", "overlays/sagittal.png", "overlays/axial_worst.png")


class SegmentationModel(Protocol):
    """What the batch needs of a model: a schema label map on the input's grid, and its provenance."""

    def predict(self, volume: Volume) -> Volume: ...

    def provenance(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class BatchConfig:
    """Settings of a batch run (configs/infer.yaml)."""

    io: IOConfig = field(default_factory=IOConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    alert: AlertConfig = field(default_factory=AlertConfig)
    write_dicom: bool = True
    show_identity: bool = False
    deidentify: bool = False  # DICOM SEG/SR by the PS3.15 basic profile (spinedetect.outputs.deidentify)
    side_process: bool = True  # build DICOM SEG/SR in a helper process beside the measurement (same files)
    modality: Literal["auto", "MR", "CT"] = "auto"  # auto: the header's, else inferred from the voxel values
    level_hint: str | None = None  # "lowest=L5" / "highest=T10" for every study (measure_labels(level_hint=))

    def __post_init__(self) -> None:
        if self.show_identity and self.deidentify:
            raise ConfigError("show_identity and deidentify contradict each other",
                              expected="at most one of them", found="both true",
                              hint="Drop --show-identity to de-identify, or --deidentify to show identity")
        if self.level_hint is not None:
            try:
                which, name = parse_level_hint(self.level_hint)
            except InputError as exc:
                raise ConfigError(str(exc)) from None
            object.__setattr__(self, "level_hint", f"{which}={name}")  # one spelling, one fingerprint


@dataclass
class StudyResult:
    """The outcome of one study (one row of summary.csv and manifest.json)."""

    key: str
    source: str
    status: str  # "ok" | "failed"
    series: str | None = None
    alert: str | None = None
    worst_level: str | None = None
    canal_compromise_pct: float | None = None
    bilsky: str | None = None
    seconds: float | None = None
    error: str | None = None
    reasons: list[str] = field(default_factory=list)
    patient: str | None = None
    finished_utc: str | None = None
    naming_confidence: float | None = None  # report.json naming.confidence: how sure the level names are


@dataclass
class BatchResult:
    """Every study's latest outcome (earlier runs' complete ones included), the inputs skipped, and where the outputs are."""

    output: Path
    studies: list[StudyResult]
    skipped: list[SkippedInput]

    @property
    def failed(self) -> list[StudyResult]:
        return [s for s in self.studies if s.status != "ok"]

    @property
    def exit_code(self) -> int:
        """0 when every study succeeded, 1 when any failed."""
        return 1 if self.failed else 0


#: What the outputs say instead of an input path under --deidentify (folder and file names often hold names).
WITHHELD = "withheld (--deidentify): OUTPUT/.deidentify-sources.json maps study keys to inputs"
#: The private file (mode 0600, like .deidentify-key) that maps pseudonymous study keys back to the inputs.
SOURCES_FILE = ".deidentify-sources.json"


def _pseudonymised(input_path: Path, inputs: list[StudyInput], skipped: list[SkippedInput],
                   uid_map: UIDMap) -> tuple[list[StudyInput], list[SkippedInput], dict[str, Any]]:
    """--deidentify: study keys become keyed hashes of the plain keys (which hash source UIDs or paths, so
    anyone holding the source could recompute them) and input paths are withheld; returns the renamed
    inputs and skipped entries, and the private record mapping them back."""
    renamed = [replace(inp, key=f"{inp.key.split('-', 1)[0]}-{uid_map.pseudonym(inp.key)}", source=WITHHELD)
               for inp in inputs]
    record = {"input": str(input_path),
              "studies": {new.key: {"plain_key": old.key, "source": old.source} for new, old in zip(renamed, inputs)},
              "skipped": [asdict(s) for s in skipped]}
    return renamed, [replace(s, source=WITHHELD) for s in skipped], record


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class OutputLock:
    """An exclusive lock on an output folder, so two runs never write the same outputs."""

    def __init__(self, output: Path) -> None:
        self.path = output / ".spinedetect.lock"
        self._fh: Any = None

    def __enter__(self) -> "OutputLock":
        self._fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "another process"
            self._fh.close()
            raise InputError(f"Output folder {self.path.parent} is in use by another spinedetect run",
                             expected="one run per output folder", found=f"a lock held by {holder}",
                             hint="Wait for that run to finish or choose another output folder") from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()} on {platform.node()}\n")
        self._fh.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


def _result_from_report(inp: StudyInput, report: dict[str, Any], series: str | None, seconds: float) -> StudyResult:
    """The worklist row of a measured study: the alert's lead level with that level's canal compromise and
    Bilsky grade (without an alert, the report's worst cross-section), so the row shows what raised it."""
    alert = report.get("alert") or {}
    worst = report.get("worst") or {}
    level = alert.get("worst_level") or worst.get("level")
    entry = next((lv for lv in report.get("levels", []) if lv.get("name") == level), {})
    pct = worst.get("canal_compromise_pct") if worst.get("level") == level else None
    if pct is None:
        pct = entry.get("canal_compromise_pct")
    return StudyResult(inp.key, inp.source, "ok", series=series, alert=alert.get("level"), worst_level=level,
                       canal_compromise_pct=pct, bilsky=entry.get("bilsky"),
                       seconds=round(seconds, 2), reasons=list(alert.get("reasons", [])),
                       naming_confidence=(report.get("naming") or {}).get("confidence"))


def _series_text(inp: StudyInput) -> str | None:
    """What a reader needs to know of the series used: modality, description, orientation, size."""
    if inp.series is not None:
        se = inp.series
        orientation = se.orientation.value if se.orientation is not None else "?"
        return f"{se.modality or '?'} '{se.description}', {orientation}, {'x'.join(str(n) for n in se.shape)}"
    return inp.path.name if inp.path is not None else None


def _load(inp: StudyInput, cfg: BatchConfig) -> Volume:
    """The study's image, its modality settled by ``cfg.modality`` (what normalisation and measurement get)."""
    if inp.problem is not None:
        raise InputError(inp.problem)
    if inp.series is not None:
        volume = load_series(inp.series, limits=cfg.io.limits, rules=cfg.io.assembly)
    else:
        assert inp.path is not None
        volume = load_volume(inp.path, limits=cfg.io.limits, rules=cfg.io.assembly)
    return settle_modality(volume, cfg.modality)


def _patient_label(inp: StudyInput, cfg: BatchConfig) -> str | None:
    """Patient name / ID for the review page, read only when ``show_identity`` asks for it."""
    if not cfg.show_identity or inp.series is None:
        return None
    try:
        ds = read_series_headers(inp.series)[0]
    except (InputError, IndexError):
        return None
    name, pid = ds.get("PatientName"), ds.get("PatientID")
    return " / ".join(str(x) for x in (name, pid) if x) or None


def _finish(inp: StudyInput, volume: Volume, labels: Volume, output: Path, cfg: BatchConfig,
            model_info: dict[str, Any], started: float, side: SideProcess,
            uid_map: UIDMap | None = None) -> StudyResult:
    """Measure, write every output into a staging folder, then move it into place in one rename.

    The DICOM SEG (which needs only the labels) is built in the side process while the measurement runs,
    the SR while the pictures are drawn; this process writes every file.
    """
    staging = output / ".staging" / inp.key
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    jobs: dict[str, SideJob] = {}
    if inp.series is not None and cfg.write_dicom:
        seed = f"spinedetect:{inp.series.series_instance_uid}:{model_info.get('model_sha256')}"
        jobs["seg.dcm"] = side.submit(encode_segmentation, labels, inp.series, seed, uid_map)
    report = measure_labels(labels.array, labels.affine, image=np.asarray(volume.array, dtype=np.float32),
                            config=cfg.measure, alert_config=cfg.alert, level_hint=cfg.level_hint,
                            modality=volume.modality).to_dict()
    if jobs:
        jobs["sr.dcm"] = side.submit(encode_measurement_report, report, inp.series, seed, uid_map)
    write_nifti(labels, staging / "labels.nii.gz")
    write_text_atomic(staging / "report.json", _json(report))
    title = f"{inp.key}  alert: {report['alert']['level']}"
    pictures = [p.relative_to(staging).as_posix()
                for p in write_study_pictures(volume, labels, report, staging / "overlays", title=title)]
    notes = list(volume.notes)
    written = ["labels.nii.gz", "report.json"]
    deidentified: dict[str, list[dict[str, object]]] = {}
    for name, job in jobs.items():
        try:
            encoded = side.result(job)
        except Exception as exc:  # the study's results stand without it (labels.nii.gz, report.json, pictures)
            message = str(exc) if isinstance(exc, SpinedetectError) else f"{type(exc).__name__}: {exc}"
            notes.append(f"{name} not written: building it failed ({message}); labels.nii.gz, report.json and "
                         "the pictures hold the results")
            log.warning("study %s: %s", inp.key, notes[-1])
            log.debug("study %s: %s traceback", inp.key, name, exc_info=exc)
            continue
        if encoded is None:
            notes.append("DICOM SEG/SR not written: the source is a multi-frame object (per-frame geometry); "
                         "labels.nii.gz and report.json hold the results")
            break
        notes += [n for n in encoded.notes if n not in notes]
        if encoded.deidentified is not None:
            deidentified[name] = encoded.deidentified
            log.info("study %s: %s de-identified (PS3.15 basic profile), %d attributes: %s", inp.key, name,
                     sum(int(t["count"]) for t in encoded.deidentified),  # type: ignore[call-overload]
                     ", ".join(f"{t['keyword']} {t['action']}" for t in encoded.deidentified))
        atomic_write_bytes(staging / name, encoded.data)
        written.append(name)
    written += pictures
    result = _result_from_report(inp, report, _series_text(inp), time.perf_counter() - started)
    record = {"key": inp.key, "source": inp.source, "status": "ok", "series": result.series,
              "modality": volume.modality, "alert": result.alert, "worst_level": result.worst_level,
              "canal_compromise_pct": result.canal_compromise_pct, "bilsky": result.bilsky,
              "reasons": result.reasons, "naming_confidence": result.naming_confidence,
              "seconds": result.seconds, "notes": notes, "files": written,
              "model": {k: model_info.get(k) for k in ("model_sha256", "source", "step")},
              "made_with": _made_with(model_info, cfg),
              "spinedetect": __version__, "finished_utc": _now()}
    if deidentified:
        record["deidentified"] = deidentified
    write_text_atomic(staging / "study.json", _json(record))
    final = output / inp.key
    if final.exists():
        old = output / ".staging" / f"{inp.key}.old-{os.getpid()}"
        os.replace(final, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(staging, final)
    (output / ".failed" / f"{inp.key}.json").unlink(missing_ok=True)
    log.info("study %s: %s", inp.key, result.alert)
    return result


def _failed(inp: StudyInput, output: Path, exc: BaseException, started: float) -> StudyResult:
    message = str(exc) if isinstance(exc, SpinedetectError) else f"{type(exc).__name__}: {exc}"
    log.error("study %s failed: %s", inp.key, message)
    if not isinstance(exc, SpinedetectError):
        log.debug("study %s traceback", inp.key, exc_info=exc)
    result = StudyResult(inp.key, inp.source, "failed", series=_series_text(inp), error=message,
                         seconds=round(time.perf_counter() - started, 2), finished_utc=_now())
    failed_dir = output / ".failed"
    failed_dir.mkdir(exist_ok=True)
    write_text_atomic(failed_dir / f"{inp.key}.json", _json(asdict(result)))
    shutil.rmtree(output / ".staging" / inp.key, ignore_errors=True)
    return result


def _made_with(model_info: dict[str, Any], cfg: BatchConfig) -> str:
    """Fingerprint of what a study's outputs depend on besides its input: the model and the settings that
    shape them (reading, modality, level hint, measurement, alert, DICOM output, de-identification; not the
    review page's)."""
    basis = {"model_sha256": model_info.get("model_sha256"), "io": config_to_dict(cfg.io),
             "measure": config_to_dict(cfg.measure), "alert": config_to_dict(cfg.alert),
             "write_dicom": cfg.write_dicom, "deidentify": cfg.deidentify, "modality": cfg.modality,
             "level_hint": cfg.level_hint}
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _complete(output: Path, key: str, fingerprint: str | None = None) -> dict[str, Any] | None:
    """The study.json of a complete study folder (made with ``fingerprint``, when given), or None."""
    try:
        record = json.loads((output / key / "study.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("status") != "ok" or not all((output / key / f).exists() for f in record.get("files", [])):
        return None
    if fingerprint is not None and record.get("made_with") != fingerprint:
        return None
    return record


def _from_record(inp: StudyInput, record: dict[str, Any], cfg: BatchConfig) -> StudyResult:
    return StudyResult(inp.key, inp.source, "ok", series=record.get("series"), alert=record.get("alert"),
                       worst_level=record.get("worst_level"), canal_compromise_pct=record.get("canal_compromise_pct"),
                       bilsky=record.get("bilsky"), seconds=record.get("seconds"),
                       reasons=list(record.get("reasons", [])), patient=_patient_label(inp, cfg),
                       finished_utc=record.get("finished_utc"), naming_confidence=record.get("naming_confidence"))


def _process(todo: list[StudyInput], model: SegmentationModel, output: Path, cfg: BatchConfig, workers: int,
             model_info: dict[str, Any], on_done: Callable[[StudyResult], None], side: SideProcess,
             uid_map: UIDMap | None = None) -> None:
    """Run ``todo`` with loading and finishing on ``workers`` threads around inference on this thread
    (and each study's DICOM SEG/SR built in the ``side`` process).

    An OSError that means the outputs cannot be written (:func:`_output_fault`) is not a study's failure:
    it stops the loop and is raised (after the studies already being written have finished).
    """

    read_ahead = cfg.write_dicom and side.parallel  # the helper reads the SEG/SR headers while the model runs

    def safe_load(inp: StudyInput) -> tuple[float, Volume | BaseException]:
        started = time.perf_counter()
        try:
            volume = _load(inp, cfg)
        except Exception as exc:  # recorded per study: one bad study never stops the batch
            return started, exc
        if read_ahead and inp.series is not None:
            side.submit(prefetch_headers, inp.series)
        return started, volume

    def safe_finish(inp: StudyInput, volume: Volume, labels: Volume, started: float) -> StudyResult:
        try:
            return _finish(inp, volume, labels, output, cfg, model_info, started, side, uid_map)
        except OSError as exc:
            if _output_fault(exc, output):
                raise
            return _failed(inp, output, exc, started)
        except Exception as exc:  # recorded per study: one bad study never stops the batch
            return _failed(inp, output, exc, started)

    def infer(inp: StudyInput, started: float, loaded: Volume | BaseException) -> Volume | None:
        """The model's labels, or None after recording why the study failed."""
        if isinstance(loaded, BaseException):
            on_done(_failed(inp, output, loaded, started))
            return None
        try:
            return model.predict(loaded)
        except Exception as exc:  # recorded per study: one bad study never stops the batch
            on_done(_failed(inp, output, exc, started))
            return None

    if workers <= 0:
        for inp in todo:
            started, loaded = safe_load(inp)
            labels = infer(inp, started, loaded)
            if labels is not None:
                on_done(safe_finish(inp, loaded, labels, started))
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spinedetect-io") as pool:
        pending_loads: deque[tuple[StudyInput, Future]] = deque()
        finishing: list[Future] = []
        queue = iter(todo)

        def done_callback(done: Future) -> None:
            if done.exception() is None:  # an output fault is raised below, by f.result()
                on_done(done.result())

        def top_up() -> None:
            while len(pending_loads) < workers:
                nxt = next(queue, None)
                if nxt is None:
                    return
                pending_loads.append((nxt, pool.submit(safe_load, nxt)))

        top_up()
        while pending_loads:
            if any(f.done() and f.exception() is not None for f in finishing):
                break  # the outputs cannot be written: start nothing new
            inp, fut = pending_loads.popleft()
            top_up()
            started, loaded = fut.result()
            labels = infer(inp, started, loaded)
            if labels is None:
                continue
            f = pool.submit(safe_finish, inp, loaded, labels, started)
            f.add_done_callback(done_callback)
            finishing.append(f)
        for f in finishing:
            f.result()


def _failed_record(output: Path, inp: StudyInput, cfg: BatchConfig) -> StudyResult | None:
    try:
        data = json.loads((output / ".failed" / f"{inp.key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    data["patient"] = _patient_label(inp, cfg)
    return StudyResult(**{k: data.get(k) for k in StudyResult.__dataclass_fields__ if k in data})


def collect_results(output: Path, inputs: list[StudyInput], cfg: BatchConfig,
                    fingerprint: str | None = None) -> list[StudyResult]:
    """Every input's latest outcome from disk: its complete study folder (made with ``fingerprint``, when
    given), else its failure record."""
    results = []
    for inp in inputs:
        record = _complete(output, inp.key, fingerprint)
        if record is not None:
            results.append(_from_record(inp, record, cfg))
            continue
        failed = _failed_record(output, inp, cfg)
        results.append(failed if failed is not None else
                       StudyResult(inp.key, inp.source, "failed", error="not processed (run interrupted?)"))
    return results


def _write_batch_files(output: Path, skipped: list[SkippedInput], results: list[StudyResult], cfg: BatchConfig, model_info: dict[str, Any], input_path: Path) -> None:
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["key", "series", "alert", "worst_level", "canal_compromise_pct", "bilsky", "status",
                     "seconds", "error"])
    for r in results:
        writer.writerow([r.key, r.series or "", r.alert or "", r.worst_level or "",
                         "" if r.canal_compromise_pct is None else f"{r.canal_compromise_pct:.1f}", r.bilsky or "",
                         r.status, "" if r.seconds is None else f"{r.seconds:.2f}", r.error or ""])
    write_text_atomic(output / "summary.csv", buf.getvalue())
    manifest = {
        "input": WITHHELD if cfg.deidentify else str(input_path),
        "studies": [{"key": r.key, "source": r.source, "status": r.status, "series": r.series,
                     "finished_utc": r.finished_utc, "error": r.error} for r in results],
        "skipped": [{"source": s.source, "status": "skipped", "reason": s.reason} for s in skipped],
        "counts": {"ok": sum(r.status == "ok" for r in results), "failed": sum(r.status != "ok" for r in results),
                   "skipped": len(skipped)},
    }
    write_text_atomic(output / "manifest.json", _json(manifest))
    entries = []
    for r in results:
        overlays = tuple(sorted((output / r.key / "overlays").glob("*.png"))) if r.status == "ok" else ()
        entries.append(StudyEntry(
            key=r.key, status=r.status, alert_level=AlertLevel(r.alert) if r.alert else None,
            worst_level=r.worst_level, canal_compromise_pct=r.canal_compromise_pct, bilsky=r.bilsky,
            reasons=tuple(r.reasons), series=r.series, overlays=overlays, error=r.error,
            patient_label=r.patient if cfg.show_identity else None, naming_confidence=r.naming_confidence))
    write_review_page(entries, output / "index.html",
                      subtitle=f"spinedetect {__version__}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    provenance = {"spinedetect": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
                  "command": [sys.argv[0], WITHHELD] if cfg.deidentify else sys.argv, "config": config_to_dict(cfg),
                  "model": model_info, "packages": dict(_package_versions()),
                  "finished_utc": datetime.now(timezone.utc).isoformat()}
    write_text_atomic(output / "provenance.json", _json(provenance))


@functools.lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    """Installed versions of the packages outputs depend on (read once: metadata parsing costs ~20 ms)."""
    from importlib import metadata

    out = {}
    for name in ("torch", "monai", "numpy", "scipy", "scikit-image", "nibabel", "pydicom", "highdicom", "SimpleITK"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


#: errno values that mean the output location cannot take more data, whatever the file.
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)


def _inside(path: str | os.PathLike[str] | None, folder: Path) -> bool:
    if not path:
        return False
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
        return True
    except ValueError:
        return False


def _output_fault(exc: OSError, output: Path) -> bool:
    """True when ``exc`` means OUTPUT cannot be written (disk full, read-only, no permission there)."""
    return exc.errno in _FULL or _inside(exc.filename, output) or _inside(exc.filename2, output)


#: How every stopped batch ends its message: what a rerun does.
_RERUN = "then rerun the same command: complete studies are kept and the rest are done"


def _progress_text(output: Path, inputs: list[StudyInput], fingerprint: str) -> str:
    """'N of M studies are complete' (made with ``fingerprint``), for the message of a stopped batch."""
    done = sum(_complete(output, inp.key, fingerprint) is not None for inp in inputs)
    return f"{done} of {len(inputs)} studies are complete"


def _stopped(exc: OSError, output: Path, inputs: list[StudyInput], fingerprint: str) -> OutputError:
    """The one-line error of a batch stopped because OUTPUT cannot be written."""
    what = errno.errorcode.get(exc.errno or 0, "OSError")
    where = f" ({exc.filename})" if exc.filename else ""
    return OutputError(f"Stopped: cannot write the outputs in {output}", expected="free space and write permission "
                       "in the output folder", found=f"{exc.strerror or exc} [{what}]{where}; "
                       f"{_progress_text(output, inputs, fingerprint)}", hint=f"Free space or fix the folder, {_RERUN}")


def _clear_leftovers(output: Path) -> None:
    """Remove what a killed run left half-written: the staging folder and atomic writers' temporary files.

    None of it is ever trusted (a study counts only once renamed into place with its study.json; batch
    files only once renamed); this only frees the space. Called under the output lock, single process only.
    """
    shutil.rmtree(output / ".staging", ignore_errors=True)
    for folder in (output, output / ".failed"):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _prepare_output(output: Path) -> None:
    """Create OUTPUT, or say in one line why it cannot be used (a file, read-only, no permission)."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Output folder {output} cannot be created", expected="a folder path this user can write",
                          found=f"{exc.strerror or exc} [{errno.errorcode.get(exc.errno or 0, 'OSError')}]",
                          hint="Choose another OUTPUT or fix the path") from None
    if not os.access(output, os.W_OK):
        raise OutputError(f"Output folder {output} is not writable", expected="a folder this user can write",
                          found="no write permission (or a read-only file system)",
                          hint="Choose another OUTPUT or fix the permissions")


def run_batch(input_path: str | Path, output: str | Path, model: SegmentationModel, *,
              config: BatchConfig = BatchConfig(), workers: int = 0, rank: int = 0, world_size: int = 1,
              all_ranks_ok: Callable[[bool], bool] | None = None,
              on_study: Callable[[StudyResult], None] | None = None) -> BatchResult:
    """Process every study under ``input_path`` into ``output`` and write the batch files.

    With ``world_size`` > 1 (torchrun), rank r processes studies r, r + world_size, ...; every rank
    writes its own studies, then all ranks call ``all_ranks_ok(mine_ok)`` (a collective returning True
    when every rank finished its part) and rank 0 writes the batch files. A rank that stops (outputs not
    writable, any error) still takes part in that call, so the others stop too instead of waiting for it.
    ``workers`` threads load the next studies and write finished ones while the model runs.
    """
    input_path, output = Path(input_path), Path(output)
    _prepare_output(output)
    inputs, skipped = find_studies(input_path, io_config=config.io)
    model_info = model.provenance()
    fingerprint = _made_with(model_info, config)
    uid_map = UIDMap.for_folder(output) if config.deidentify else None
    private: dict[str, Any] | None = None
    if uid_map is not None:
        inputs, skipped, private = _pseudonymised(input_path, inputs, skipped, uid_map)

    def work() -> None:
        mine = inputs[rank::world_size]
        todo = [inp for inp in mine if _complete(output, inp.key, fingerprint) is None]
        stale = sum(_complete(output, inp.key) is not None for inp in todo)
        log.info("rank %d: %d studies, %d already complete", rank, len(mine), len(mine) - len(todo))
        if stale:
            log.warning("rank %d: %d complete studies were made with another model or settings: redoing them",
                        rank, stale)
        if not todo:
            return
        dicom = config.write_dicom and any(inp.series is not None for inp in todo)  # else no SEG/SR to build
        with SideProcess(enabled=config.side_process and dicom) as side:
            _process(todo, model, output, config, workers, model_info, on_study or (lambda r: None), side, uid_map)

    def work_and_agree() -> None:
        if all_ranks_ok is None:
            work()
            return
        try:
            work()
        except BaseException:
            all_ranks_ok(False)
            raise
        if not all_ranks_ok(True):
            raise OutputError(f"Stopped: another rank could not finish its studies in {output}",
                              expected="every rank to finish", found="a rank stopped (its error is printed above); "
                              f"{_progress_text(output, inputs, fingerprint)}",
                              hint=f"Fix what that rank reported, {_RERUN}")

    try:
        if rank == 0:
            with OutputLock(output):
                if world_size == 1:
                    _clear_leftovers(output)
                if private is not None:
                    atomic_write_bytes(output / SOURCES_FILE, _json(private).encode("utf-8"), mode=0o600)
                work_and_agree()
                results = collect_results(output, inputs, config, fingerprint)
                _write_batch_files(output, skipped, results, config, model_info, input_path)
        else:
            work_and_agree()
            results = collect_results(output, inputs, config, fingerprint)
    except OSError as exc:
        if not _output_fault(exc, output):
            raise
        if world_size == 1:
            shutil.rmtree(output / ".staging", ignore_errors=True)  # frees what the stopped study had written
        log.debug("outputs cannot be written", exc_info=exc)
        raise _stopped(exc, output, inputs, fingerprint) from exc
    return BatchResult(output, results, skipped)

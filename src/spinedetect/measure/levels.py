"""Vertebral level names (C1..S1) from the anatomy a schema label map shows, with how sure they are.

The anchor is the lumbosacral junction, read from the chain of vertebral-body centroids (world RAS mm):

* S1 segmented: the lowest body has no full disc below it and is either longer than the bodies above
  (S1 fused with S2) or reached through the sharp lumbosacral turn of the column;
* L5 above an unsegmented sacrum: the lowest body has a full disc below it, the field of view goes on
  beyond with no body in it, and the column ends in a lordotic (lumbar) curve.

Every other vertebra is named by counting bodies from the anchor. The conus (cord end) is only a
cross-check: a model that draws the cauda equina as cord puts it far too low, so it never names levels.
A user's hint always wins. Names of a naming that is not sure (confidence < :data:`CONFIDENT`), and
names counted across an irregular gap in the column, end in :data:`UNCERTAIN` ("L5?"). One study is
named either entirely anatomically or not at all (the report then numbers the levels V1..Vn).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from spinedetect.errors import InputError
from spinedetect.labels import Label
from spinedetect.measure.centreline import Centreline
from spinedetect.measure.vertebrae import BoneCoordinates, Vertebra

__all__ = ["LEVEL_NAMES", "UNCERTAIN", "CONFIDENT", "Naming", "BodyChain", "Anchor", "base_level_name",
           "parse_level_hint", "body_chain", "disc_below_fraction", "room_below_mm", "lumbosacral_anchor",
           "name_vertebrae"]

log = logging.getLogger(__name__)

#: Vertebral level names from the top of the spine to S1 (the top of the sacrum).
LEVEL_NAMES: tuple[str, ...] = (tuple(f"C{i}" for i in range(1, 8)) + tuple(f"T{i}" for i in range(1, 13))
                                + tuple(f"L{i}" for i in range(1, 6)) + ("S1",))
#: Names counted beyond S1: the fused sacral segments.
_ALL_NAMES: tuple[str, ...] = LEVEL_NAMES + ("S2", "S3", "S4", "S5")
#: Appended to a level name that is not anchored well ("L5?").
UNCERTAIN = "?"
#: Namings at least this sure are written without :data:`UNCERTAIN`.
CONFIDENT = 0.7

# Thresholds, set on real lumbar MRI (21 studies) and the anatomy they reflect:
#: a disc below the lowest body this large (fraction of the median disc between bodies) is a full disc:
#: L5-S1 discs measured 0.19-1.1, the rudimentary S1-S2 disc below a segmented S1 0.01-0.26.
DISC_BELOW_FULL = 0.3
#: below this the lowest body has no disc below it.
DISC_BELOW_NONE = 0.15
#: the column turns this much (degrees, towards posterior) into S1 only: L4-L5-S1 turned 18-45 degrees,
#: T12..L5 at most 23.
LUMBOSACRAL_TURN_DEG = 28.0
#: a turn this lordotic at the second-lowest body is the low lumbar curve (measured 8-23 deg at L4,
#: 18-45 at L5): the lowest body is L5 or S1.
LOW_LUMBAR_TURN_DEG = 15.0
#: a turn at least this lordotic at the second-lowest body says the column ends in the lumbar curve
#: (the thoracic curve turns the other way).
LORDOTIC_TURN_DEG = 5.0
#: a body spacing this much above the column's median: a body is missing in between.
GAP_FACTOR = 1.6
#: a spacing this much above the median, or a turn this sharp (degrees), is no spinal column.
BROKEN_FACTOR = 2.5
BROKEN_TURN_DEG = 60.0
#: the lowest bodies of a column ending at the lumbosacral junction are lumbar-sized: anteroposterior depth
#: (mm) at least this (adult L3-S1 about 30-45 mm; measured 22-38 on real MRI, partial S1 included;
#: cervical bodies are 15-18 mm deep).
LUMBAR_MIN_DEPTH_MM = 20.0
#: a body named cervical is smaller than this (mm); one this deep is no cervical vertebra.
CERVICAL_MAX_DEPTH_MM = 26.0
#: neighbouring bodies lie at least this many body depths apart (body height + disc: 1.0-1.3 body depths
#: from C3 to L5); closer centroids are fragments of bodies, not a column.
MIN_SPACING_PER_DEPTH = 0.75


@dataclass(frozen=True)
class Naming:
    """How the vertebrae were named: ``rule`` (sacrum / hint / none), ``confidence`` 0..1, ``detail``."""

    rule: str
    confidence: float
    detail: str


@dataclass(frozen=True)
class BodyChain:
    """The vertebral bodies as a chain: ``centres`` (n, 3) body centroids (world RAS mm, superior to
    inferior), ``spacing`` (n-1,) mm between neighbours, ``turn_deg`` (n,) the angle the chain turns at
    each body, positive towards posterior (lordotic), NaN at the two ends, and ``depth_mm`` (n,) each
    body's anteroposterior depth (2nd-98th percentile of its canal coordinate ``a``)."""

    centres: np.ndarray
    spacing: np.ndarray
    turn_deg: np.ndarray
    depth_mm: np.ndarray

    @property
    def median_spacing(self) -> float:
        return float(np.median(self.spacing)) if len(self.spacing) else float("nan")


@dataclass(frozen=True)
class Anchor:
    """One vertebra whose name the anatomy gives: its ``index``, ``name``, ``confidence`` and ``reason``."""

    index: int
    name: str
    confidence: float
    reason: str


def base_level_name(name: str) -> str:
    """``name`` without the uncertainty mark ("L5?" -> "L5")."""
    return name[:-len(UNCERTAIN)] if name.endswith(UNCERTAIN) else name


def parse_level_hint(hint: str) -> tuple[str, str]:
    """``"lowest=L5"`` / ``"highest=T10"`` -> (which, name); raises InputError otherwise."""
    m = re.fullmatch(r"\s*(lowest|highest)\s*=\s*([CTLS]\d{1,2})\s*", hint or "", flags=re.IGNORECASE)
    if not m or m.group(2).upper() not in LEVEL_NAMES:
        raise InputError(f"Level hint {hint!r} is not understood", expected="'lowest=NAME' or 'highest=NAME' "
                         "with NAME one of C1..C7, T1..T12, L1..L5, S1", found=repr(hint),
                         hint="For example --level-hint lowest=L5")
    return m.group(1).lower(), m.group(2).upper()


def body_chain(verts: list[Vertebra], bc: BoneCoordinates, centreline: Centreline) -> BodyChain:
    """Body centroids, spacings and turns of ``verts``; ``centreline`` is the one ``bc`` was projected on
    (its anterior direction signs the turns)."""
    centres = np.array([bc.xyz[v.body].mean(axis=0) for v in verts]).reshape(-1, 3)
    spacing = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    turn = np.full(len(centres), np.nan)
    for k in range(1, len(centres) - 1):
        u, w = centres[k] - centres[k - 1], centres[k + 1] - centres[k]
        u, w = u / max(np.linalg.norm(u), 1e-9), w / max(np.linalg.norm(w), 1e-9)
        angle = float(np.degrees(np.arccos(np.clip(u @ w, -1.0, 1.0))))
        j = min(int(np.median(bc.nearest[verts[k].body])), len(centreline) - 1)
        turn[k] = angle if (w - u) @ centreline.anterior[j] <= 0 else -angle
    depth = np.array([np.subtract(*np.percentile(bc.a[v.body], [98, 2])) for v in verts])
    return BodyChain(centres, spacing, turn, depth)


def _disc_voxels_between(disc_xyz: np.ndarray, start: np.ndarray, direction: np.ndarray, t0: float, t1: float,
                         radius_mm: float) -> int:
    t = (disc_xyz - start) @ direction
    perp = np.linalg.norm(disc_xyz - start - t[:, None] * direction, axis=1)
    return int(np.count_nonzero((t > t0) & (t <= t1) & (perp < radius_mm)))


def disc_below_fraction(chain: BodyChain, bc: BoneCoordinates, *, radius_mm: float = 25.0) -> float | None:
    """Disc voxels below the lowest body over the median count between two bodies (None: no reference).

    Counted in a cylinder of ``radius_mm`` along the chain: between neighbours from 0.2 to 0.8 of their
    spacing; below the lowest body from 0.2 to 0.9 of the median spacing, along its last link.
    """
    n = len(chain.centres)
    disc = bc.xyz[bc.label == Label.DISC]
    if n < 2 or len(disc) == 0:
        return None
    between = []
    for k in range(n - 1):
        d = (chain.centres[k + 1] - chain.centres[k]) / max(chain.spacing[k], 1e-9)
        between.append(_disc_voxels_between(disc, chain.centres[k], d, 0.2 * chain.spacing[k],
                                            0.8 * chain.spacing[k], radius_mm))
    ref = float(np.median(between))
    if ref < 1:
        return None
    d = (chain.centres[-1] - chain.centres[-2]) / max(chain.spacing[-1], 1e-9)
    m = chain.median_spacing
    return _disc_voxels_between(disc, chain.centres[-1], d, 0.2 * m, 0.9 * m, radius_mm) / ref


def room_below_mm(chain: BodyChain, shape: tuple[int, ...], affine: np.ndarray, *, limit_mm: float = 300.0) -> float:
    """Distance (mm) from the lowest body's centroid along the chain's last link to the edge of the grid
    (``shape`` voxels on ``affine``): how much field of view lies below the lowest body."""
    if len(chain.centres) < 2:
        return 0.0
    d = (chain.centres[-1] - chain.centres[-2]) / max(chain.spacing[-1], 1e-9)
    steps = np.arange(0.0, limit_mm, 1.0)
    ijk = (np.linalg.inv(affine[:3, :3]) @ (chain.centres[-1][None] + steps[:, None] * d - affine[:3, 3]).T).T
    inside = np.all((ijk >= -0.5) & (ijk <= np.asarray(shape[:3]) - 0.5), axis=1)
    return float(steps[np.argmin(inside)]) if not inside.all() else limit_mm


def lumbosacral_anchor(verts: list[Vertebra], bc: BoneCoordinates, chain: BodyChain, *, room_mm: float,
                       sacrum_length_factor: float = 1.4) -> Anchor | None:
    """The lowest vertebra as S1 or L5 when the lumbosacral junction shows, else None (see module doc).

    ``room_mm``: :func:`room_below_mm`. Lengths are arc lengths along the canal (mm).
    """
    n = len(verts)
    if n < 2 or float(np.median(chain.depth_mm[-3:])) < LUMBAR_MIN_DEPTH_MM:
        return None  # too few bodies, or too small for lumbar ones (a cervical column is lordotic too)
    f = disc_below_fraction(chain, bc)
    turn = float(chain.turn_deg[-2]) if n >= 3 else float("nan")
    lordotic = np.isfinite(turn) and turn >= LORDOTIC_TURN_DEG
    m = chain.median_spacing
    turn_txt = f"turns {turn:.0f} deg into it" if np.isfinite(turn) else "has too few bodies to measure its turn"
    disc_txt = "no disc below it" if f is None or f < 0.005 else f"a disc below it {100 * f:.0f} % of a typical disc"
    if f is not None and f >= DISC_BELOW_FULL:
        if lordotic and room_mm >= m:
            return Anchor(n - 1, "L5", 0.75, f"the lowest body has {disc_txt}, the field of view goes on "
                          f"{room_mm:.0f} mm below with no body segmented there, and the column {turn_txt} (lumbar "
                          "curve): L5 above an unsegmented sacrum")
        return None
    lengths = np.array([np.ptp(bc.s[v.body]) for v in verts])
    if lengths[-1] >= sacrum_length_factor * np.median(lengths[:-1]):
        return Anchor(n - 1, "S1", 0.9, f"the lowest body has {disc_txt} and is {lengths[-1]:.0f} mm long, "
                      f"{lengths[-1] / np.median(lengths[:-1]):.1f} x the bodies above (S1 fused with the sacrum)")
    if np.isfinite(turn) and turn >= LUMBOSACRAL_TURN_DEG:
        return Anchor(n - 1, "S1", 0.75, f"the lowest body has {disc_txt} and the column {turn_txt}, as at the "
                      "lumbosacral junction: S1")
    no_disc = f is None or f < DISC_BELOW_NONE
    if no_disc and np.isfinite(turn) and turn >= LOW_LUMBAR_TURN_DEG:
        return Anchor(n - 1, "S1", 0.5, f"the lowest body has {disc_txt} but the column {turn_txt}, less than at a "
                      "lumbosacral junction: taken as S1, though it may be L5 with its disc missed")
    if not no_disc and lordotic and room_mm >= m:
        return Anchor(n - 1, "L5", 0.45, f"the lowest body has {disc_txt} (small for a full disc), the field of view "
                      f"goes on below with no body and the column {turn_txt}: taken as L5, though it may be S1")
    return None


def _column_problems(chain: BodyChain) -> tuple[bool, set[int], str]:
    """Whether the chain is no spinal column at all, the links k (k -> k+1) where a body seems missing,
    and a sentence saying so."""
    if len(chain.spacing) < 2:
        return False, set(), ""
    m = chain.median_spacing
    turns = np.abs(chain.turn_deg[np.isfinite(chain.turn_deg)])
    depth = float(np.median(chain.depth_mm))
    if (np.any(chain.spacing > BROKEN_FACTOR * m) or np.any(turns > BROKEN_TURN_DEG)
            or m < MIN_SPACING_PER_DEPTH * depth):
        spacings = np.round(chain.spacing).astype(int).tolist()
        return True, set(), (f"the bodies do not form a spinal column (spacings {spacings} mm for bodies "
                             f"{depth:.0f} mm deep, largest turn {turns.max() if len(turns) else 0:.0f} deg)")
    gaps = {int(k) for k in np.flatnonzero(chain.spacing > GAP_FACTOR * m)}
    text = (f"a body seems missing between {len(gaps)} pair(s) of neighbours (spacing > {GAP_FACTOR} x the median "
            f"{m:.0f} mm)") if gaps else ""
    return False, gaps, text


def _names_from(n: int, anchor: int, name: str) -> list[str] | None:
    """Names of vertebrae 0..n-1 counted from ``anchor`` named ``name``; None when they run off the spine."""
    p = _ALL_NAMES.index(name)
    q = [p + k - anchor for k in range(n)]
    if q[0] < 0 or q[-1] >= len(_ALL_NAMES):
        return None
    return [_ALL_NAMES[i] for i in q]


def _conus_check(verts: list[Vertebra], names: list[str], conus_s_mm: float | None, conus_level: str
                 ) -> tuple[float, str]:
    """Confidence change and sentence from where the cord ends, given the names (a cross-check only)."""
    if conus_s_mm is None:
        return 0.0, ""
    k = next((v.index for v in verts if v.s_from <= conus_s_mm < v.s_to), None)
    if k is None or names[k] not in LEVEL_NAMES:
        return 0.0, ""
    at, usual = LEVEL_NAMES.index(names[k]), LEVEL_NAMES.index(conus_level)
    if abs(at - usual) <= 1:
        return 0.05, f"the cord ends at {names[k]}, where the conus usually lies: agrees"
    if at > usual:
        return 0.0, (f"the cord ends at {names[k]}, below where the conus lies (about {conus_level}): the label map "
                     "probably draws the cauda equina as cord, so the cord end is not used")
    return -0.15, f"the cord ends at {names[k]}, unusually high for a conus: check the levels"


def _size_check(chain: BodyChain, names: list[str]) -> tuple[float, str]:
    """Confidence change and sentence when body sizes contradict the names' regions (a cross-check)."""
    wrong = [f"{n} ({d:.0f} mm deep)" for n, d in zip(names, chain.depth_mm)
             if (n.startswith("C") and d >= CERVICAL_MAX_DEPTH_MM)
             or ((n.startswith("L") or n == "S1") and d < LUMBAR_MIN_DEPTH_MM)]
    if not wrong:
        return 0.0, ""
    return -0.3, f"body sizes contradict the names' regions: {', '.join(wrong[:3])}: check the levels"


def _write(verts: list[Vertebra], names: list[str] | None, uncertain: set[int]) -> None:
    for v in verts:
        if names is None:
            v.name, v.is_sacrum = None, False
        else:
            v.name = names[v.index] + (UNCERTAIN if v.index in uncertain else "")
            v.is_sacrum = names[v.index].startswith("S")


def name_vertebrae(verts: list[Vertebra], bc: BoneCoordinates, centreline: Centreline, *,
                   shape: tuple[int, ...], affine: np.ndarray, conus_s_mm: float | None = None,
                   conus_level: str = "L1", level_hint: str | None = None,
                   sacrum_length_factor: float = 1.4) -> Naming:
    """Name ``verts`` (superior to inferior, indices 0..n-1) in place and say how and how sure.

    ``bc``: their canal coordinates on ``centreline``; ``shape``/``affine``: the label map's grid (voxel ->
    RAS mm); ``conus_s_mm``: arc length of the cord end (a cross-check against ``conus_level``, the level
    where the conus usually lies). A ``level_hint`` ("lowest=L5", "highest=T10") always wins. Without a
    hint or an anatomical anchor, or when the bodies form no column, every name is None.
    """
    if not verts:
        return Naming("none", 0.0, "no vertebral bodies in the label map")
    hint = parse_level_hint(level_hint) if level_hint else None
    chain = body_chain(verts, bc, centreline)
    broken, gaps, column_txt = _column_problems(chain)
    anchor = None if broken else lumbosacral_anchor(verts, bc, chain, room_mm=room_below_mm(chain, shape, affine),
                                                    sacrum_length_factor=sacrum_length_factor)
    names = _names_from(len(verts), anchor.index, anchor.name) if anchor is not None else None
    if hint is not None:
        which, name = hint
        hinted = _names_from(len(verts), len(verts) - 1 if which == "lowest" else 0, name)
        if hinted is None:
            raise InputError("Level hint does not fit the vertebrae in view", expected=f"a hint that leaves "
                             f"{len(verts)} vertebrae between C1 and S5", found=repr(level_hint),
                             hint="Check the hint against the image (which vertebra is lowest / highest)")
        detail = f"user hint: {which} vertebra in view is {name} (a hint always wins)"
        if anchor is not None and names is not None:
            agree = names == hinted
            detail += (f"; the anatomy ({anchor.reason}) names the lowest {names[-1]}: "
                       f"{'agrees' if agree else 'disagrees, check the hint'}")
        for txt in (column_txt, _size_check(chain, hinted)[1]):
            detail += f"; {txt}" if txt else ""
        _write(verts, hinted, set())
        return Naming("hint", 1.0, detail)
    if broken:
        _write(verts, None, set())
        return Naming("none", 0.0, f"{column_txt}: levels are not named and are numbered V1..Vn from the top")
    if anchor is None or names is None:
        _write(verts, None, set())
        why = "no sacrum or lumbosacral junction recognised" if anchor is None else \
            f"counting from {anchor.name} runs past the ends of the spine"
        return Naming("none", 0.0, f"{why} and no level hint: levels are numbered V1..Vn from the top")
    conf = anchor.confidence
    detail = anchor.reason
    # bodies counted across a missing body (a gap between them and the anchor) may be one level off; the
    # confidence stays that of the anchor and of the names on its side of the gap
    across = {v.index for v in verts if any(min(v.index, anchor.index) <= g < max(v.index, anchor.index) for g in gaps)}
    if across:
        detail += f"; {column_txt}: names counted across it are uncertain"
    for delta, txt in (_conus_check(verts, names, conus_s_mm, conus_level), _size_check(chain, names)):
        conf += delta
        detail += f"; {txt}" if txt else ""
    conf = float(np.clip(conf, 0.05, 0.95))
    uncertain = set(range(len(verts))) if conf < CONFIDENT else across
    if uncertain:
        detail += f"; names marked {UNCERTAIN} are uncertain"
    _write(verts, names, uncertain)
    log.debug("levels %s..%s named from %s (confidence %.2f)", verts[0].name, verts[-1].name, anchor.name, conf)
    return Naming("sacrum", round(conf, 2), detail)

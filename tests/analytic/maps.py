"""Analytic schema label maps of a short spine segment on any voxel grid, and the geometry of their truth.

The spine is defined in its own frame, in mm: ``x`` lateral (patient right), ``y`` anterior, ``z`` along
the canal axis (superior). For a straight spine that frame is the world (RAS+) frame; for a gently
curved one (a sagittal arc of radius ``curvature_radius_mm``, convex anteriorly like a lordosis) ``z`` is
the arc length of the canal axis and ``(x, y)`` are Euclidean coordinates in the plane perpendicular to
it, so every cross-section of a shape perpendicular to the canal is exactly the 2-D shape written below.

Each voxel's label is that of the shapes evaluated at the voxel centre in world mm (nearest-neighbour
voxelisation, no partial volume). The grid is any affine: its own spacing and a rotation of its axes
relative to the world. The truth of a test is computed from the shape parameters with the closed forms
at the bottom of this module (ellipse and ellipse-segment areas), never from a label map.

Shapes (all parameters in mm):

- thecal sac: an elliptical tube (semi-axes ``sac_a`` lateral, ``sac_b`` AP) centred on the axis, CSF
  (label 4); it may end inside the field of view, tapering linearly to a point over ``sac_taper_mm``;
- bony canal: a wider ellipse (the sac's semi-axes + ``epidural_mm``); the ring between it and the
  sac is the epidural space (background, i.e. fat);
- spinal cord (label 5): an elliptical tube inside the sac; it may end in a conus, its semi-axes
  shrinking linearly to zero over ``conus_taper_mm`` above the tip (CSF only below);
- vertebral bodies (label 1): boxes anterior to the bony canal, ``body_h_mm`` tall, separated by discs
  (label 3) ``disc_h_mm`` thick; a body may lose anterior height (a wedge: its superior endplate tilts,
  the disc above fills the space);
- posterior elements (label 2): pedicles and laminae around the bony canal and a spinous process, at
  the height of each body (not at the discs);
- epidural tumour (label 7): :class:`Epidural` zones along the canal where tumour fills the bony canal
  anterior to a front, with the cord inside the zone optionally displaced or flattened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "rotation", "to_world", "CordShape", "Epidural", "Spine", "build", "ellipse_area",
           "segment_area_above", "BODY", "POSTERIOR", "DISC", "CSF", "CORD", "TUMOUR"]

# the schema values (written out here: the truth does not import the project's label module)
BODY, POSTERIOR, DISC, CSF, CORD, TUMOUR = 1, 2, 3, 4, 5, 7


@dataclass(frozen=True)
class Grid:
    """A voxel grid: ``spacing`` (mm along the i, j, k axes), ``rotation`` (3x3, columns = the world
    directions of the i, j, k axes), a box of ``half_extent_mm`` in the grid's own axes around the world
    point ``centre_mm``."""

    spacing: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    half_extent_mm: tuple[float, float, float] = (22.0, 31.0, 100.0)
    centre_mm: tuple[float, float, float] = (0.0, 10.0, 0.0)

    def shape_affine(self) -> tuple[tuple[int, int, int], np.ndarray]:
        """Grid shape (i, j, k) and the 4x4 voxel-to-RAS affine (voxel centres symmetric about the centre)."""
        sp = np.asarray(self.spacing, dtype=np.float64)
        n = np.maximum(np.round(2.0 * np.asarray(self.half_extent_mm) / sp).astype(int), 1)
        cols = np.asarray(self.rotation, dtype=np.float64) * sp[None, :]
        affine = np.eye(4)
        affine[:3, :3] = cols
        affine[:3, 3] = np.asarray(self.centre_mm) - cols @ ((n - 1) / 2.0)
        return (int(n[0]), int(n[1]), int(n[2])), affine


def rotation(axis: tuple[float, float, float], degrees: float) -> tuple[tuple[float, float, float], ...]:
    """The 3x3 matrix (row-major nested tuples) rotating by ``degrees`` about the world ``axis`` (Rodrigues):
    a :attr:`Grid.rotation` whose columns are the grid axes turned away from the world axes."""
    u = np.asarray(axis, dtype=np.float64)
    u = u / np.linalg.norm(u)
    t = math.radians(degrees)
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    r = np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)
    return tuple(tuple(float(v) for v in row) for row in r)


@dataclass(frozen=True)
class CordShape:
    """An elliptical cord cross-section: semi-axes ``a`` (lateral) and ``b`` (AP), centre at ``centre_y``."""

    a: float
    b: float
    centre_y: float

    @property
    def area(self) -> float:
        return ellipse_area(self.a, self.b)


@dataclass(frozen=True)
class Epidural:
    """An epidural tumour zone ``z_mm`` ± ``length_mm`` / 2 along the canal.

    Tumour fills the bony canal anterior to ``front_y`` (None: the whole bony canal), except the cord
    and, with ``spare_sac``, except the thecal sac (tumour in the epidural space only, the sac's outline
    intact). ``cord`` is the cord's cross-section inside the zone (None: unchanged); it blends linearly
    into the normal cord over ``cord_ramp_mm`` beyond the zone's ends.
    """

    z_mm: float
    front_y: float | None
    length_mm: float = 12.0
    spare_sac: bool = False
    cord: CordShape | None = None
    cord_ramp_mm: float = 0.0


@dataclass(frozen=True)
class Spine:
    """Parameters of the analytic spine segment (mm; percentages in %)."""

    sac_a: float = 9.0
    sac_b: float = 7.5
    epidural_mm: float = 2.5
    cord: CordShape | None = CordShape(4.0, 3.0, -1.0)
    conus_tip_z: float | None = None            # the cord ends here (None: through the whole view)
    conus_taper_mm: float = 25.0
    sac_end_z: float | None = None              # the sac ends here (None: through the whole view)
    sac_taper_mm: float = 20.0
    body_h_mm: float = 25.0
    disc_h_mm: float = 9.0
    body_centre_z: float = 0.0                  # one body is centred here; the others repeat every h + disc
    body_half_width: float = 16.0
    body_depth: float = 28.0
    wedge_pct: tuple[tuple[int, float], ...] = ()  # (body number (0 = at body_centre_z, + upwards), % loss)
    tumours: tuple[Epidural, ...] = ()
    curvature_radius_mm: float | None = None

    @property
    def sac_area(self) -> float:
        return ellipse_area(self.sac_a, self.sac_b)

    @property
    def period(self) -> float:
        return self.body_h_mm + self.disc_h_mm

    @property
    def canal_a(self) -> float:
        return self.sac_a + self.epidural_mm

    @property
    def canal_b(self) -> float:
        return self.sac_b + self.epidural_mm

    def body_centre(self, n: int) -> tuple[float, float, float]:
        """Spine-frame centre (x, y, z) of body ``n`` (0 at ``body_centre_z``, positive upwards), unwedged."""
        return (0.0, self.canal_b + self.body_depth / 2, self.body_centre_z + n * self.period)


def to_world(spine: Spine, x: float, y: float, z: float) -> tuple[float, float, float]:
    """World RAS mm of the spine-frame point (x, y, z) (the inverse of the frame's definition)."""
    r = spine.curvature_radius_mm
    if r is None:
        return (x, y, z)
    phi = z / r
    return (x, (r + y) * math.cos(phi) - r, (r + y) * math.sin(phi))


def _spine_coords(spine: Spine, xyz: tuple[np.ndarray, np.ndarray, np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y, z = xyz
    r = spine.curvature_radius_mm
    if r is None:
        return x, y, z
    # the canal axis is an arc through the origin, its centre of curvature at y = -r (posterior)
    dy = y + r
    return x, np.hypot(dy, z) - r, r * np.arctan2(z, dy)


def _in_ellipse(x: np.ndarray, y: np.ndarray, a: float | np.ndarray, b: float | np.ndarray,
                cy: float | np.ndarray = 0.0) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0


def _cord_params(spine: Spine, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cord semi-axes and centre (arrays over ``z``); semi-axes 0 where there is no cord."""
    base = spine.cord
    assert base is not None
    a = np.full(z.shape, base.a, dtype=np.float32)
    b = np.full(z.shape, base.b, dtype=np.float32)
    c = np.full(z.shape, base.centre_y, dtype=np.float32)
    for t in spine.tumours:
        if t.cord is None:
            continue
        d = np.abs(z - t.z_mm) - t.length_mm / 2
        w = np.clip(1.0 - d / t.cord_ramp_mm, 0.0, 1.0) if t.cord_ramp_mm > 0 else (d <= 0).astype(np.float32)
        a += w * (t.cord.a - base.a)
        b += w * (t.cord.b - base.b)
        c += w * (t.cord.centre_y - base.centre_y)
    if spine.conus_tip_z is not None:
        g = np.clip((z - spine.conus_tip_z) / spine.conus_taper_mm, 0.0, 1.0)
        a *= g
        b *= g
    return a, b, c


def _bone(spine: Spine, x: np.ndarray, y: np.ndarray, z: np.ndarray, bony: np.ndarray) -> np.ndarray:
    """Labels of bodies, discs and posterior elements (0 elsewhere)."""
    out = np.zeros(x.shape, dtype=np.uint8)
    h, p = spine.body_h_mm, spine.period
    n = np.round((z - spine.body_centre_z) / p)        # nearest body number
    dz = z - spine.body_centre_z - n * p               # offset from its centre, in [-p/2, p/2]
    y0 = spine.canal_b
    foot = (np.abs(x) <= spine.body_half_width) & (y >= y0) & (y <= y0 + spine.body_depth)
    top = np.full(x.shape, h / 2, dtype=np.float32)
    for k, loss in spine.wedge_pct:
        # superior endplate tilted: full height at the posterior wall, (1 - loss) at the anterior wall
        frac = np.clip((y - y0) / spine.body_depth, 0.0, 1.0)
        top = np.where(n == k, h / 2 - (loss / 100.0) * h * frac, top)
    in_body = foot & (dz >= -h / 2) & (dz <= top)
    out[foot] = DISC
    out[in_body] = BODY
    back = -spine.canal_b - 6.0                        # posterior surface of the laminae
    ring = (np.abs(x) <= spine.body_half_width) & (y < y0) & (y >= back) & ~bony
    spinous = (np.abs(x) <= 3.0) & (y < back) & (y >= back - 4.0)
    post = (ring | spinous) & (np.abs(dz) <= h / 2 - 3.0)
    out[post] = POSTERIOR
    return out


def build(spine: Spine, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Label map (uint8, (i, j, k), schema values 0..7) of ``spine`` on ``grid`` and its 4x4 RAS affine."""
    shape, affine = grid.shape_affine()
    cols = affine[:3, :3].astype(np.float32)
    idx = [np.arange(n, dtype=np.float32) for n in shape]
    world = [(idx[0][:, None, None] * cols[c, 0] + idx[1][None, :, None] * cols[c, 1]
              + idx[2][None, None, :] * cols[c, 2] + np.float32(affine[c, 3])) for c in range(3)]
    x, y, z = (np.broadcast_to(w, shape) for w in _spine_coords(spine, tuple(world)))
    bony = _in_ellipse(x, y, spine.canal_a, spine.canal_b)
    labels = _bone(spine, x, y, z, bony)
    f = np.float32(1.0)
    if spine.sac_end_z is not None:
        f = np.clip((z - spine.sac_end_z) / spine.sac_taper_mm, 0.0, 1.0)
    sac = _in_ellipse(x, y, spine.sac_a * f, spine.sac_b * f) & bony
    labels[sac] = CSF
    cord = np.zeros(shape, dtype=bool)
    if spine.cord is not None:
        ca, cb, cc = _cord_params(spine, z)
        cord = _in_ellipse(x, y, ca, cb, cc) & bony
        labels[cord] = CORD
    for t in spine.tumours:
        zone = bony & (np.abs(z - t.z_mm) <= t.length_mm / 2) & ~cord
        if t.front_y is not None:
            zone &= y > t.front_y
        if t.spare_sac:
            zone &= ~sac
        labels[zone] = TUMOUR
    return np.ascontiguousarray(labels), affine


# --- closed forms of the truth -------------------------------------------------------------------------

def ellipse_area(a: float, b: float) -> float:
    """Area (mm²) of an ellipse with semi-axes ``a`` and ``b`` (mm)."""
    return math.pi * a * b


def segment_area_above(a: float, b: float, c: float) -> float:
    """Area (mm²) of the part of the ellipse (x/a)² + (y/b)² <= 1 with y > ``c`` (mm)."""
    t = min(max(c / b, -1.0), 1.0)
    return a * b * (math.acos(t) - t * math.sqrt(1.0 - t * t))

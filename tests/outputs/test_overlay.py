import io

import numpy as np
import pytest
from PIL import Image

from spinedetect.io.volume import Volume
from spinedetect.labels import LABEL_COLOURS, Label
from spinedetect.outputs.overlay import (Mark, axial_plane, png_bytes, render_overlay, reslice, sagittal_plane,
                                         save_png)


def _volumes(affine):
    img = np.zeros((20, 30, 10), dtype=np.float32)
    lab = np.zeros((20, 30, 10), dtype=np.uint8)
    img[5:10, 5:25, :] = 100.0
    lab[5:10, 5:25, :] = Label.CORD
    return Volume(img, affine), Volume(lab, affine)


def test_physical_aspect_and_colours(tmp_path):
    aff = np.diag([1.0, 1.0, 4.0, 1.0])   # anisotropic: 4 mm along k
    image, labels = _volumes(aff)
    centre = aff[:3, :3] @ np.array([9.5, 14.5, 4.5])
    plane = axial_plane(centre, 40.0)
    pic = render_overlay(image, labels, plane, pixel_mm=0.5, window=(0.0, 100.0))
    assert pic.size == (80, 80)
    arr = np.asarray(pic).astype(float)
    # the labelled block is 5 x 20 mm (x by y): 10 px wide, 40 px tall, anterior (+y) up
    tinted = np.abs(arr - arr[:, :, :1]).sum(axis=2) > 30
    rows, cols = np.nonzero(tinted)
    assert 38 <= rows.max() - rows.min() + 1 <= 42 and 9 <= cols.max() - cols.min() + 1 <= 11
    colour = np.array(LABEL_COLOURS[Label.CORD], dtype=float)
    px = arr[int(np.median(rows)), int(np.median(cols))]
    assert np.allclose(px, 0.55 * 255 + 0.45 * colour, atol=3)


def test_radiological_left_right_and_sagittal_orientation(tmp_path):
    aff = np.eye(4)
    img = np.zeros((40, 40, 40), dtype=np.float32)
    img[30:, 18:22, 18:22] = 1.0          # +x = patient right
    vol = Volume(img, aff)
    pic = np.asarray(render_overlay(vol, None, axial_plane((19.5, 19.5, 19.5), 40.0), pixel_mm=1.0,
                                    window=(0.0, 1.0)))
    # patient right appears on the picture's left
    assert pic[:, :15].mean() > pic[:, 25:].mean()
    img2 = np.zeros((40, 40, 40), dtype=np.float32)
    img2[18:22, 30:, 18:22] = 1.0         # +y = anterior
    pic2 = np.asarray(render_overlay(Volume(img2, aff), None, sagittal_plane((19.5, 19.5, 19.5), 40.0, 40.0),
                                     pixel_mm=1.0, window=(0.0, 1.0)))
    assert pic2[:, :15].mean() > pic2[:, 25:].mean()   # anterior on the left of a sagittal picture


def test_title_marks_side_by_side_and_atomic_save(tmp_path):
    image, labels = _volumes(np.eye(4))
    plane = sagittal_plane((9.5, 14.5, 4.5), 30.0, 10.0)
    pic = render_overlay(image, labels, plane, pixel_mm=0.5, title="a fairly long title " * 4,
                         marks=[Mark("L1", (9.5, 14.5, 4.5))], side_by_side=True)
    assert pic.width == 2 * 60 + 6 and pic.height > 20
    path = save_png(pic, tmp_path / "sub" / "p.png")
    assert path.is_file() and not list(path.parent.glob(".*tmp"))


def test_reslice_samples_world_positions_on_an_oblique_grid():
    # trilinear interpolation reproduces a linear field exactly, so every plane pixel inside the volume
    # must hold the field's value at that pixel's world position
    rot = np.array([[np.cos(0.3), -np.sin(0.3), 0.0], [np.sin(0.3), np.cos(0.3), 0.0], [0.0, 0.0, 1.0]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([0.7, 0.9, 3.0])
    affine[:3, 3] = (-10.0, 5.0, 2.0)
    ijk = np.stack(np.meshgrid(*(np.arange(n) for n in (40, 50, 12)), indexing="ij"), -1).reshape(-1, 3)
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    field = (world @ np.array([2.0, 3.0, -1.0])).reshape(40, 50, 12)
    centre = affine[:3] @ np.r_[19.5, 24.5, 5.5, 1.0]
    plane = axial_plane(centre, 20.0, normal=(0.2, -0.3, 1.0))
    out = reslice(Volume(field, affine), plane, 0.5, order=1, cval=np.nan)
    nh, nw = out.shape
    u = (np.arange(nw) - (nw - 1) / 2.0) * 0.5
    v = ((nh - 1) / 2.0 - np.arange(nh)) * 0.5
    pts = (np.asarray(plane.center) + v[:, None, None] * np.asarray(plane.up_dir)
           + u[None, :, None] * np.asarray(plane.right_dir))
    expected = pts @ np.array([2.0, 3.0, -1.0])
    assert out.shape == (40, 40) and np.isfinite(out).all()
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_png_bytes_read_back_exactly(tmp_path):
    """Our PNG writer (fixed Up filter) gives files any reader decodes to the same pixels."""
    rng = np.random.default_rng(0)
    for shape in ((1, 1, 3), (5, 7, 3), (64, 33, 3)):
        rgb = rng.integers(0, 256, shape, dtype=np.uint8)
        with Image.open(io.BytesIO(png_bytes(rgb))) as im:
            assert im.format == "PNG" and im.mode == "RGB" and im.size == (shape[1], shape[0])
            assert np.array_equal(np.asarray(im), rgb)
    path = save_png(Image.fromarray(rng.integers(0, 256, (9, 4, 3), dtype=np.uint8)), tmp_path / "rgb.png")
    grey = save_png(Image.fromarray(rng.integers(0, 256, (9, 4), dtype=np.uint8)), tmp_path / "grey.png")
    with Image.open(path) as a, Image.open(grey) as b:
        assert a.mode == "RGB" and b.mode == "L" and b.size == (4, 9)
    with pytest.raises(ValueError, match=r"\(h, w, 3\) uint8"):
        png_bytes(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="float64"):
        png_bytes(np.zeros((4, 4, 3)))

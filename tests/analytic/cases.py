"""The analytic cases of issue 18 and their truth, computed by hand from the shape parameters.

Nothing here calls the measurement or shares its rules: areas are closed forms (ellipse, ellipse
segment), grades come from the clinical definitions written out below (DESIGN.md, "Clinical
definitions"), positions from where the shapes were put.

Common anatomy (mm, spine frame: x right, y anterior, z superior; see maps.py): thecal sac 18 x 15
(semi-axes 9 x 7.5, 212.1 mm²), cord 8 x 6 (semi-axes 4 x 3, 37.7 mm²) centred 1 mm behind the sac's
centre (top at y = 2, back at y = -4), 2.5 mm of epidural space, bodies 25 mm tall with 9 mm discs, one
body centred at z = 0 (body 0; tumours and wedges are put there).
"""

from __future__ import annotations

from .maps import CordShape, Epidural, Spine, segment_area_above

NORMAL = Spine()
SAC_A, SAC_B = NORMAL.sac_a, NORMAL.sac_b
SAC_AREA = NORMAL.sac_area
CORD = NORMAL.cord
assert CORD is not None
CORD_TOP = CORD.centre_y + CORD.b
CORD_BACK = CORD.centre_y - CORD.b


def compromise_pct(area: float, reference: float) -> float:
    """DESIGN.md: (1 - m_i / mean(m_above, m_below)) x 100; here both references are the normal ``reference``."""
    return (1.0 - area / ((reference + reference) / 2.0)) * 100.0


# --- a. conus ---------------------------------------------------------------------------------------------
# The cord tapers linearly over 25 mm to its tip; below it the sac holds CSF only. Mid-view: the tip 80 mm
# above the lower edge of the view; low: a thoracic-style view ending 25 mm below the tip (as a thoracic
# scan ending at L1-L2 often does). Truth: nothing is compressed or narrowed anywhere.
CONUS = {"mid": Spine(conus_tip_z=-20.0), "low": Spine(conus_tip_z=-75.0)}

# --- b. end of the dural sac --------------------------------------------------------------------------------
# A lumbar view below the conus (no cord): the sac tapers over 20 mm to its end (S2 in life), fat below.
# Truth: no narrowing: the end of the sac is anatomy.
SAC_END = {"mid": Spine(cord=None, sac_end_z=-40.0), "low": Spine(cord=None, sac_end_z=-85.0)}

# --- c. focal narrowing ----------------------------------------------------------------------------------------
# Anterior epidural tumour over 12 mm fills the canal in front of y = 0: exactly half of the sac's ellipse.
# The cord is displaced backwards (centre -1 -> -4 mm, ramped over 6 mm beyond the tumour, shape unchanged)
# so that 1 mm of CSF separates it from the tumour: the cord is not touched.
NARROWING_FRONT_Y = 0.0
NARROWING_CORD = CordShape(CORD.a, CORD.b, -4.0)
_NARROWING_TUMOUR = (Epidural(0.0, NARROWING_FRONT_Y, cord=NARROWING_CORD, cord_ramp_mm=6.0),)
NARROWING = Spine(tumours=_NARROWING_TUMOUR)
NARROWING_CURVED = Spine(tumours=_NARROWING_TUMOUR, curvature_radius_mm=300.0)
NARROWING_AREA = SAC_AREA - segment_area_above(SAC_A, SAC_B, NARROWING_FRONT_Y)
NARROWING_PCT = compromise_pct(NARROWING_AREA, SAC_AREA)          # 50.0 %
NARROWING_AT = (0.0, 0.0, 0.0)                                    # spine frame: canal axis at the tumour's centre

# --- d. Bilsky ------------------------------------------------------------------------------------------------
# Each built as the clinical definition states; tumour over 12 mm behind body 0.
#   1a epidural tumour, thecal sac not deformed: tumour in the anterior epidural space, abutting the sac,
#      the sac's outline the normal ellipse;
#   1b sac deformed, cord not touched: the sac indented from the front up to y = 4 (2 mm of CSF in front of
#      the cord);
#   1c sac deformed, tumour touching the cord, cord not deformed: the tumour front at y = 1 wraps the top
#      1 mm of the normal cord;
#   2  cord compressed (AP flattened by 34 %: 6 -> 3.96 mm, widened 8 -> 9.2 mm, back kept at y = -4),
#      tumour touching it in front, CSF still around it (3.5 mm behind, the sides);
#   3  cord compressed (flattened 34 %, 8.8 mm wide) against the back of the sac, tumour filling the rest
#      of the canal: no CSF.
FLATTENED = 0.34
_FLAT_B = CORD.b * (1.0 - FLATTENED)
BILSKY_CORD = {"2": CordShape(4.6, _FLAT_B, CORD_BACK + _FLAT_B),
               "3": CordShape(4.4, _FLAT_B, -SAC_B + _FLAT_B)}
BILSKY_TUMOUR = {
    "1a": Epidural(0.0, 0.0, spare_sac=True),
    "1b": Epidural(0.0, 4.0),
    "1c": Epidural(0.0, CORD_TOP - 1.0),
    "2": Epidural(0.0, BILSKY_CORD["2"].centre_y + BILSKY_CORD["2"].b - 1.0, cord=BILSKY_CORD["2"]),
    "3": Epidural(0.0, None, cord=BILSKY_CORD["3"]),
}
BILSKY = {g: Spine(tumours=(t,)) for g, t in BILSKY_TUMOUR.items()}
#: Alert levels the clinical reading allows: epidural tumour is never "none"; high grade (2, 3) is urgent;
#: low grade (1a, 1b) is not an emergency; 1c is "often grouped with" the high grades: either.
BILSKY_ALERT = {"1a": {"watch"}, "1b": {"watch"}, "1c": {"watch", "urgent"}, "2": {"urgent"}, "3": {"urgent"}}
#: Cord compression (area, %) of the compressed grades: the flattened ellipse against the normal cord.
BILSKY_CORD_PCT = {g: compromise_pct(c.area, CORD.area) for g, c in BILSKY_CORD.items()}


def _sac_left(t: Epidural) -> float:
    """Canal (sac) area (mm²) at the centre of tumour zone ``t``: the sac minus the tumour in it."""
    if t.spare_sac:
        return SAC_AREA
    cord = t.cord or CORD
    if t.front_y is None:  # the tumour fills all of the sac but the cord
        return cord.area
    cap = segment_area_above(cord.a, cord.b, t.front_y - cord.centre_y)  # the cord in front of the front
    return SAC_AREA - (segment_area_above(SAC_A, SAC_B, t.front_y) - cap)


#: Canal compromise (%) at each Bilsky level: 0, 17.7, 39.6, 56.1, 87.1.
BILSKY_CANAL_PCT = {g: compromise_pct(_sac_left(t), SAC_AREA) for g, t in BILSKY_TUMOUR.items()}

# --- e. Genant ------------------------------------------------------------------------------------------------
# Body 0 wedged: its superior endplate tilts so the anterior height is (1 - loss) x 25 mm, the posterior
# 25 mm; its neighbours are normal, so the expected height is 25 mm and the anterior loss is the loss.
WEDGE_LOSS_PCT = (0.0, 22.0, 30.0, 45.0)
GENANT = {loss: Spine(wedge_pct=((0, loss),)) for loss in WEDGE_LOSS_PCT}


def genant_grade(loss_pct: float) -> int:
    """Genant grade by the clinical table: 0 < 20 %, 1 20-25 %, 2 25-40 %, 3 > 40 %."""
    if loss_pct < 20.0:
        return 0
    if loss_pct < 25.0:
        return 1
    if loss_pct <= 40.0:
        return 2
    return 3

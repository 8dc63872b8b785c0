"""SynthRooms v2 furniture: real-sized objects made of parts (legs, cushions, fronts, handles).

Same frame and types as :mod:`rtgs2.synth.furniture`: x across the object's width, y from its
back (y = -d/2, against the wall) to its front, z up from the floor (wall and ceiling objects:
from their lowest point); parts stay inside [-w/2, w/2] x [-d/2, d/2] x [0, h], so disjoint
boxes never interpenetrate. Sizes are metres (IKEA-like catalogue sizes with jitter).

Material slots (``Part.slot`` k -> material k of ``appearance.object_materials(cls, ...)``):

- sofa: 0 frame (base, back, arms), 1 legs / plinth, 2 cushions and pillows
- chair: 0 seat and back, 1 legs (and arms' posts), 2 seat cushion
- bed: 0 duvet, 1 frame, legs, headboard, 2 pillows and throw, 3 mattress
- table: 0 top (and a coffee table's lower shelf), 1 legs, pedestal, apron
- cabinet: 0 body and plinth, 1 door and drawer fronts, 2 handles and legs, 3 top
- shelf: 0 sides and boards, 1 back panel
- lamp: 0 shade (a pendant's glowing part), 1 base, stem, cord, canopy, 2 diffuser of a flush light
- plant: 0 leaves, 1 pot, 2 soil and stem
- monitor: 0 screen, 1 bezel and stand
- clutter: 0 / 1 (books alternate; a lid, cap or fruit is 1)
- rug: 0 field, 1 border
- door: 0 leaf and raised panels, 1 casing, 2 handle, 3 the dark recess of an open doorway
- window: 0 glass pane (the only slot-0 part: the renderer finds panes by it), 1 frame,
  mullions and transom, 2 sill, 3 curtains (curtain panels are their own 'window' objects)
- picture: 0 canvas (or mirror glass), 1 frame
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtgs2.synth.furniture import ELLIPSOID, Part, Support, Template, _box, _cyl, _legs

SURFACE_MARGIN = 0.02  # metres kept free at the edges of a support surface
FRONT = 0.045  # metres from a cabinet's front face back to its body: fronts + handles live here


@dataclass
class Lamp(Template):
    """A lamp: a template with its bulb, ``bulb`` (x, y, z) metres in the object frame (centre
    of the glowing part) and ``bulb_radius`` metres."""

    bulb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    bulb_radius: float = 0.03


@dataclass
class Sofa(Template):
    """A sofa with where its coffee table can go: ``seat_front`` (y of the main seat's front
    edge) and ``open_x`` (x0, x1), the stretch in front of it that the chaise leaves free."""

    seat_front: float = 0.0
    open_x: tuple[float, float] = (0.0, 0.0)


def light_point(t: Template) -> tuple[np.ndarray, float] | None:
    """Where ``t``'s light comes from: (xyz [3] in the object frame, radius), metres; None if
    ``t`` is not a lamp."""
    return (np.array(t.bulb, dtype=np.float64), float(t.bulb_radius)) if isinstance(t, Lamp) else None


def pane_index(t: Template) -> int:
    """Index of a window template's glass pane (its only slot-0 part)."""
    (k,) = [i for i, p in enumerate(t.parts) if p.slot == 0]
    return k


def _ell(x: float, y: float, z: float, rx: float, ry: float, rz: float, slot: int) -> Part:
    return Part(ELLIPSOID, (x, y, z), (rx, ry, rz), slot)


def _split(a0: float, a1: float, n: int, gap: float) -> list[tuple[float, float]]:
    """``n`` equal intervals covering [a0, a1] with ``gap`` between neighbours."""
    step = (a1 - a0 + gap) / n
    return [(a0 + i * step, a0 + (i + 1) * step - gap) for i in range(n)]


def _top_support(w: float, d: float, z: float, clearance: float = 1.0) -> Support:
    m = SURFACE_MARGIN
    return Support(-w / 2 + m, -d / 2 + m, w / 2 - m, d / 2 - m, z, clearance)


def _under(x0: float, y0: float, x1: float, y1: float, leg_h: float, legs: bool) -> list[Part]:
    """Slot-1 legs at the corners of [x0, x1] x [y0, y1], or a recessed plinth, ``leg_h`` high."""
    if not legs:
        return [_box(x0 + 0.03, y0 + 0.03, 0, x1 - 0.03, y1 - 0.03, leg_h, 1)]
    t = 0.05
    return [
        _box(x - t / 2, y - t / 2, 0, x + t / 2, y + t / 2, leg_h, 1)
        for x in (x0 + 0.05, x1 - 0.05) for y in (y0 + 0.05, y1 - 0.05)
    ]


# -- seating ----------------------------------------------------------------------------------
def sofa(rng: np.random.Generator, seats: int | None = None, corner: bool | None = None) -> Sofa:
    """A 1-3 seater (1 = armchair) with seat and back cushions, or an L-shaped corner sofa
    whose chaise runs towards +y on the +x side."""
    seats = int(rng.integers(2, 4)) if seats is None else seats
    corner = (seats >= 2 and rng.random() < 0.25) if corner is None else corner
    cw, arm = rng.uniform(0.55, 0.68), rng.uniform(0.1, 0.22)
    d, h = rng.uniform(0.85, 0.98), rng.uniform(0.75, 0.88)
    seat_z, cush = rng.uniform(0.42, 0.47), rng.uniform(0.12, 0.17)
    leg_h, legs = rng.uniform(0.05, 0.16), bool(rng.random() < 0.6)
    back_t, bc_t = rng.uniform(0.12, 0.2), rng.uniform(0.14, 0.2)
    back_h, arm_h = h - rng.uniform(0.0, 0.15), seat_z + rng.uniform(0.12, 0.22)
    base = seat_z - cush
    gap = 0.01  # between neighbouring cushions
    if corner:
        w = seats * cw + arm + back_t + bc_t
        dd = d + int(rng.integers(1, 3)) * cw + arm  # depth of the L
    else:
        w, dd = seats * cw + 2 * arm, d
    y0 = -dd / 2
    xr = w / 2 - (back_t + bc_t if corner else arm)  # right end of the main seat run
    parts = _under(-w / 2, y0, w / 2, y0 + d, leg_h, legs)
    parts += [
        _box(-w / 2 + arm, y0 + back_t, leg_h, w / 2 - (back_t if corner else arm), y0 + d, base, 0),  # base
        _box(-w / 2, y0, leg_h, w / 2, y0 + back_t, back_h, 0),  # back
        _box(-w / 2, y0, leg_h, -w / 2 + arm, y0 + d, arm_h, 0),
    ]
    for a, b in _split(-w / 2 + arm, xr, seats + (1 if corner else 0), gap):
        parts.append(_box(a, y0 + back_t + bc_t, base, b, y0 + d, seat_z, 2))
    for a, b in _split(-w / 2 + arm, xr, seats, gap):
        parts.append(_box(a, y0 + back_t, seat_z, b, y0 + back_t + bc_t, h, 2))
    if corner:  # chaise: side back on +x, its base, cushions, an arm at its far end
        xb = w / 2 - back_t
        parts += _under(w / 2 - d, y0 + d, w / 2, dd / 2, leg_h, legs)
        parts += [
            _box(xb, y0, leg_h, w / 2, dd / 2, back_h, 0),
            _box(w / 2 - d, y0 + d - 0.05, leg_h, xb, dd / 2 - arm, base, 0),
            _box(w / 2 - d, dd / 2 - arm, leg_h, w / 2, dd / 2, arm_h, 0),
        ]
        n = max(1, round((dd / 2 - arm - y0 - d) / cw))
        for a, b in _split(y0 + d + gap, dd / 2 - arm, n, gap):
            parts.append(_box(w / 2 - d, a, base, xb - bc_t, b, seat_z, 2))
        for a, b in _split(y0 + back_t + bc_t + gap, dd / 2 - arm, n + 1, gap):
            parts.append(_box(xb - bc_t, a, seat_z, xb, b, h, 2))
    else:
        parts.append(_box(w / 2 - arm, y0, leg_h, w / 2, y0 + d, arm_h, 0))
    for side in (-1, 1)[: int(rng.integers(0, 3))]:  # throw pillows in front of the back cushions
        r = min(rng.uniform(0.17, 0.23), (h - seat_z) / 1.8)  # stays below the back's top
        x = side * (w / 2 - arm - r - 0.03) if side < 0 or not corner else xr - r - 0.05
        parts.append(_ell(x, y0 + back_t + bc_t + 0.07, seat_z + r * 0.9, r, 0.07, r * 0.9, 2))
    open_x = (-w / 2 + arm, w / 2 - d if corner else w / 2 - arm)
    return Sofa("sofa", parts, (w, dd, h), seat_front=y0 + d, open_x=open_x)


def chair(rng: np.random.Generator, arms: bool | None = None, stool: bool = False, office: bool = False) -> Template:
    """A dining or desk chair: 4 legs (or an office chair's column and cross base), seat, a panel
    back or two posts with rails, an optional seat cushion and arms; ``stool``: no back."""
    w, d = rng.uniform(0.42, 0.5), rng.uniform(0.44, 0.52)
    seat, t = rng.uniform(0.44, 0.47), rng.uniform(0.025, 0.05)
    h = seat + rng.uniform(0.38, 0.5)
    arms = (rng.random() < 0.2) if arms is None else arms
    if office:
        w, d, arms = w + 0.12, d + 0.08, True
    parts = [_box(-w / 2, -d / 2, seat - t, w / 2, d / 2, seat, 0)]
    if office:  # swivel: cross base, column
        parts += [_box(-w / 2, -0.03, 0.04, w / 2, 0.03, 0.08, 1), _box(-0.03, -d / 2, 0.04, 0.03, d / 2, 0.08, 1)]
        parts += [_cyl(0, 0, 0.08, seat - t, 0.025, 1)]
        feet = ((-w / 2 + 0.03, 0), (w / 2 - 0.03, 0), (0, -d / 2 + 0.03), (0, d / 2 - 0.03))
        parts += [_cyl(x, y, 0, 0.04, 0.025, 1) for x, y in feet]
    else:
        parts += _legs(w, d, seat - t, rng.uniform(0.028, 0.045), 0.0, bool(rng.random() < 0.5), 1)
    if stool:
        return Template("chair", parts, (w, d, seat))
    bt = rng.uniform(0.025, 0.045)
    if rng.random() < 0.5 or office:  # solid back panel
        z0 = seat + (0.12 if office else 0.0)
        parts.append(_box(-w / 2 + (0.03 if office else 0), -d / 2, z0, w / 2 - (0.03 if office else 0), -d / 2 + bt, h, 0))
        if office:
            parts.append(_box(-0.03, -d / 2, seat, 0.03, -d / 2 + bt, z0, 1))
    else:  # two posts and one or two rails
        pt = rng.uniform(0.03, 0.045)
        parts += [
            _box(s * w / 2 - (pt if s > 0 else 0), -d / 2, seat, s * w / 2 + (pt if s < 0 else 0), -d / 2 + pt, h, 0)
            for s in (-1, 1)
        ]
        for k in range(int(rng.integers(1, 3))):
            z1 = h - k * 0.14
            parts.append(_box(-w / 2 + pt, -d / 2, z1 - rng.uniform(0.05, 0.1), w / 2 - pt, -d / 2 + bt * 0.7, z1, 0))
    if rng.random() < 0.35:
        parts.append(_box(-w / 2 + 0.02, -d / 2 + bt + 0.01, seat, w / 2 - 0.02, d / 2 - 0.02, seat + rng.uniform(0.03, 0.06), 2))
    if arms:
        az, at = seat + rng.uniform(0.18, 0.24), 0.04
        for s in (-1, 1):
            x0, x1 = (-w / 2, -w / 2 + at) if s < 0 else (w / 2 - at, w / 2)
            parts += [
                _box(x0, d / 2 - 0.07, seat, x1, d / 2 - 0.03, az - 0.02, 1),
                _box(x0, -d / 2, az - 0.025, x1, d / 2 - 0.02, az, 0),
            ]
    return Template("chair", parts, (w, d, h))


# -- beds and tables --------------------------------------------------------------------------
BED_WIDTHS = (0.9, 1.4, 1.6, 1.8)  # mattress widths, metres


def bed(rng: np.random.Generator, mattress_w: float | None = None) -> Template:
    """A bed frame on legs with headboard (sometimes a footboard), mattress, duvet hanging
    over the sides, 1-2 pillows per person and sometimes a throw across the foot."""
    mw = float(rng.choice(BED_WIDTHS)) if mattress_w is None else mattress_w
    ml, side, head_t = 2.0, rng.uniform(0.03, 0.07), rng.uniform(0.05, 0.1)
    footboard = bool(rng.random() < 0.3)
    w, d = mw + 2 * side, head_t + ml + side
    leg_h, frame_top = rng.uniform(0.08, 0.2), rng.uniform(0.3, 0.4)
    mb, mh = frame_top - rng.uniform(0.04, 0.08), rng.uniform(0.18, 0.26)
    mt, head_h = mb + mh, rng.uniform(0.9, 1.25)
    y0, y1 = -d / 2 + head_t, d / 2 - side
    parts = [
        _box(-w / 2, y0, leg_h, -w / 2 + side, d / 2, frame_top, 1),
        _box(w / 2 - side, y0, leg_h, w / 2, d / 2, frame_top, 1),
        _box(-w / 2, y1, leg_h, w / 2, d / 2, frame_top + (0.3 if footboard else 0.0), 1),
        _box(-w / 2 + side, y0, mb - 0.03, w / 2 - side, y1, mb, 1),  # slatted deck
        _box(-w / 2, -d / 2, 0, w / 2, y0, head_h, 1),  # headboard
        _box(-mw / 2, y0, mb, mw / 2, y1, mt, 3),  # mattress
    ]
    parts += [
        _box(x - 0.025, y - 0.025, 0, x + 0.025, y + 0.025, leg_h, 1)
        for x in (-w / 2 + 0.03, w / 2 - 0.03) for y in (y0 + 0.03, d / 2 - 0.03)
    ]
    over, thick = min(side, rng.uniform(0.02, 0.05)), rng.uniform(0.04, 0.08)
    dy0 = y0 + rng.uniform(0.45, 0.65)  # the duvet leaves the pillows uncovered
    dy1 = y1 if footboard else d / 2
    parts.append(_box(-mw / 2 - over, dy0, mt - rng.uniform(0.1, mh), mw / 2 + over, dy1, mt + thick, 0))
    parts.append(_box(-mw / 2 - over, dy0, mt, mw / 2 + over, dy0 + rng.uniform(0.15, 0.3), mt + thick + 0.02, 0))  # fold
    if rng.random() < 0.35:
        parts.append(_box(-mw / 2 - over, dy1 - 0.55, mt + thick, mw / 2 + over, dy1 - 0.1, mt + thick + 0.015, 2))
    persons = 1 if mw < 1.2 else 2
    for k in range(persons):
        x = -mw / 2 + (k + 0.5) * mw / persons
        rx = min(0.33, mw / (2 * persons) - 0.03)
        parts.append(_ell(x, y0 + 0.22, mt + 0.07, rx, 0.2, 0.08, 2))
        if rng.random() < 0.5:
            parts.append(_ell(x, y0 + 0.32, mt + 0.12, rx * 0.85, 0.15, 0.07, 2))
    return Template("bed", parts, (w, d, head_h))


TABLE_KINDS = ("dining", "coffee", "side", "desk")


def table(rng: np.random.Generator, kind: str = "dining", seats: int | None = None) -> Template:
    """A table of ``kind`` (TABLE_KINDS): top on 4 legs (sometimes with an apron) or a pedestal;
    round tops sometimes. ``seats`` sizes a dining table (4 or 6)."""
    round_top = kind != "desk" and rng.random() < 0.25
    if kind == "dining":
        seats = seats or int(rng.choice([4, 6]))
        w, d = (rng.uniform(1.2, 1.4), rng.uniform(0.78, 0.9)) if seats <= 4 else (rng.uniform(1.6, 2.0), rng.uniform(0.9, 1.0))
        if round_top:
            w = d = rng.uniform(0.9, 1.2)
        h = rng.uniform(0.73, 0.76)
    elif kind == "coffee":
        w, d, h = rng.uniform(0.9, 1.3), rng.uniform(0.5, 0.75), rng.uniform(0.38, 0.46)
        if round_top:
            w = d = rng.uniform(0.7, 0.95)
    elif kind == "side":
        w = d = rng.uniform(0.4, 0.55)
        h = rng.uniform(0.45, 0.6)
    else:
        w, d, h = rng.uniform(1.0, 1.6), rng.uniform(0.6, 0.8), rng.uniform(0.72, 0.76)
    top = rng.uniform(0.02, 0.045)
    parts = [_cyl(0, 0, h - top, h, w / 2, 0) if round_top else _box(-w / 2, -d / 2, h - top, w / 2, d / 2, h, 0)]
    if round_top and rng.random() < 0.6:  # pedestal: column on a foot
        parts += [_cyl(0, 0, 0, h - top, rng.uniform(0.04, 0.08), 1), _cyl(0, 0, 0, 0.03, w * rng.uniform(0.2, 0.3), 1)]
    else:
        lw, inset = rng.uniform(0.035, 0.07), (w / 2 * 0.35 if round_top else rng.uniform(0.0, 0.06))
        parts += _legs(w, d, h - top, lw, inset, bool(rng.random() < 0.5), 1)
        if rng.random() < 0.4 and kind in ("dining", "desk") and not round_top:  # apron under the top
            a, ah = inset + lw * 0.3, rng.uniform(0.06, 0.1)
            parts += [
                _box(-w / 2 + a, -d / 2 + a, h - top - ah, w / 2 - a, -d / 2 + a + 0.02, h - top, 1),
                _box(-w / 2 + a, d / 2 - a - 0.02, h - top - ah, w / 2 - a, d / 2 - a, h - top, 1),
                _box(-w / 2 + a, -d / 2 + a, h - top - ah, -w / 2 + a + 0.02, d / 2 - a, h - top, 1),
                _box(w / 2 - a - 0.02, -d / 2 + a, h - top - ah, w / 2 - a, d / 2 - a, h - top, 1),
            ]
        if kind == "coffee" and not round_top and rng.random() < 0.5:  # lower shelf between the legs
            parts.append(_box(-w / 2 + inset + lw, -d / 2 + inset + lw, 0.1, w / 2 - inset - lw, d / 2 - inset - lw, 0.12, 0))
    s = w / 2 / np.sqrt(2) if round_top else None  # a round top carries things on its inscribed square
    sup = Support(-s, -s, s, s, h, 1.0) if round_top else _top_support(w, d, h)
    return Template("table", parts, (w, d, h), [sup])


# -- storage ----------------------------------------------------------------------------------
CABINET_KINDS = ("sideboard", "wardrobe", "drawers", "bedside", "tv")


def _handle(rng_kind: int, x: float, z: float, y: float, horizontal: bool) -> Part:
    """A slot-2 handle on a front whose face is at ``y``: a bar (0) or a round knob (1)."""
    if rng_kind == 1:
        return _cyl(x, y + 0.012, z - 0.012, z + 0.012, 0.012, 2)
    if horizontal:
        return _box(x - 0.07, y, z - 0.008, x + 0.07, y + 0.022, z + 0.008, 2)
    return _box(x - 0.008, y, z - 0.08, x + 0.008, y + 0.022, z + 0.08, 2)


def cabinet(rng: np.random.Generator, kind: str | None = None, max_h: float = 2.2) -> Template:
    """A cabinet of ``kind`` (CABINET_KINDS): body, door or drawer fronts with handles, a
    plinth or legs, a top; low ones carry things on their top. ``max_h`` caps a wardrobe."""
    kind = kind or CABINET_KINDS[int(rng.integers(0, len(CABINET_KINDS)))]
    w, d, h = {
        "sideboard": (rng.uniform(1.2, 1.8), rng.uniform(0.4, 0.5), rng.uniform(0.7, 0.9)),
        "wardrobe": (rng.uniform(0.8, 2.0), rng.uniform(0.55, 0.6), rng.uniform(1.95, 2.2)),
        "drawers": (rng.uniform(0.6, 1.2), rng.uniform(0.45, 0.5), rng.uniform(0.7, 1.2)),
        "bedside": (rng.uniform(0.4, 0.55), rng.uniform(0.35, 0.45), rng.uniform(0.45, 0.6)),
        "tv": (rng.uniform(1.2, 2.0), rng.uniform(0.38, 0.45), rng.uniform(0.4, 0.55)),
    }[kind]
    h = min(h, max_h)
    legs = kind != "wardrobe" and rng.random() < 0.4
    zb = rng.uniform(0.1, 0.2) if legs else rng.uniform(0.06, 0.1)
    top_t, hk = rng.uniform(0.02, 0.035), int(rng.integers(0, 2))
    yf = d / 2 - FRONT
    parts = [
        _box(-w / 2 + 0.005, -d / 2, zb, w / 2 - 0.005, yf, h - top_t, 0),
        _box(-w / 2, -d / 2, h - top_t, w / 2, d / 2, h, 3),
    ]
    if legs:
        parts += _legs(w, d - FRONT, zb, 0.035, 0.02, hk == 1, 2)
    else:
        parts.append(_box(-w / 2 + 0.02, -d / 2, 0, w / 2 - 0.02, yf - 0.03, zb, 0))
    # front grid: (x0, x1, z0, z1, drawer?)
    x0, x1, z0, z1 = -w / 2 + 0.005, w / 2 - 0.005, zb + 0.005, h - top_t - 0.005
    fronts: list[tuple[float, float, float, float, bool]] = []
    if kind in ("drawers", "bedside"):
        rows = int(rng.integers(3, 6)) if kind == "drawers" else int(rng.integers(1, 3))
        cols = 2 if kind == "drawers" and w > 0.9 and rng.random() < 0.5 else 1
        for a, b in _split(x0, x1, cols, 0.004):
            fronts += [(a, b, c, e, True) for c, e in _split(z0, z1, rows, 0.004)]
    else:
        n = max(1, round((x1 - x0) / (0.5 if kind == "wardrobe" else 0.45)))
        zd = z1
        if kind in ("sideboard", "tv") and rng.random() < 0.5:  # a row of drawers above the doors
            zd = z1 - min(0.18, (z1 - z0) / 3)
            fronts += [(a, b, zd + 0.004, z1, True) for a, b in _split(x0, x1, n, 0.004)]
        fronts += [(a, b, z0, zd, False) for a, b in _split(x0, x1, n, 0.004)]
    for i, (a, b, c, e, drawer) in enumerate(fronts):
        parts.append(_box(a, yf, c, b, yf + 0.02, e, 1))
        if drawer:
            parts.append(_handle(hk, (a + b) / 2, e - min(0.06, (e - c) / 2), yf + 0.02, True))
        else:  # door handles on the edge away from the hinge: pairs open from the middle
            right = (i % 2 == 0) if len(fronts) > 1 else True
            zh = min(1.05, (c + e) / 2) if kind == "wardrobe" else e - 0.1
            parts.append(_handle(hk, b - 0.04 if right else a + 0.04, zh, yf + 0.02, False))
    sup = [_top_support(w, d, h)] if h < 1.3 else []
    return Template("cabinet", parts, (w, d, h), sup)


def shelf(rng: np.random.Generator, kind: str | None = None, max_h: float = 2.1) -> Template:
    """A bookcase (sides, plinth, boards) or a cube shelf (grid of cells), with a back panel;
    a support on every level, and on the top when low."""
    kind = kind or ("cube" if rng.random() < 0.3 else "bookcase")
    t = rng.uniform(0.018, 0.03)
    if kind == "cube":
        nx, nz, cell, t = int(rng.integers(1, 5)), int(rng.integers(1, 5)), 0.335, rng.uniform(0.03, 0.04)
        w, d, h = nx * cell + (nx + 1) * t, 0.39, nz * cell + (nz + 1) * t
        while h > max_h:
            nz -= 1
            h = nz * cell + (nz + 1) * t
        levels = [k * (cell + t) for k in range(nz + 1)]
        xs = [-w / 2 + k * (cell + t) for k in range(nx + 1)]
    else:
        w, d = rng.choice([0.4, 0.6, 0.8, 1.0]) + rng.uniform(-0.02, 0.02), rng.uniform(0.28, 0.4)
        h = min(max_h, rng.uniform(1.06, 2.02))
        plinth = rng.uniform(0.05, 0.1)
        n = max(2, int((h - plinth) / rng.uniform(0.3, 0.4)))
        levels = list(np.linspace(plinth, h - t, n + 1))
        xs = [-w / 2, w / 2 - t]
        nx = 1
    parts = [_box(x, -d / 2, 0, x + t, d / 2, h, 0) for x in xs]
    parts.append(_box(-w / 2 + t, -d / 2, 0, w / 2 - t, -d / 2 + 0.008, h, 1))  # back panel
    if kind != "cube":
        parts.append(_box(-w / 2 + t, -d / 2 + 0.008, 0, w / 2 - t, d / 2 - 0.01, levels[0], 0))  # plinth
    sup = []
    for k, z in enumerate(levels):
        parts.append(_box(-w / 2 + t, -d / 2 + 0.008, z, w / 2 - t, d / 2, z + t, 0))
        clear = (levels[k + 1] - z - t) if k + 1 < len(levels) else (1.0 if h < 1.3 else 0.0)
        if clear > 0.1:
            cols = [(xs[i] + t, xs[i + 1]) for i in range(len(xs) - 1)] if kind == "cube" else [(-w / 2 + t, w / 2 - t)]
            sup += [Support(a, -d / 2 + 0.01, b, d / 2, z + t, clear) for a, b in cols]
    return Template("shelf", parts, (w, d, h), sup)


# -- lamps ------------------------------------------------------------------------------------
def _shade(rng: np.random.Generator, z0: float, z1: float, r: float) -> list[Part]:
    """A slot-0 lamp shade between heights z0 and z1: a drum, a taper (two drums) or a dome."""
    style = int(rng.integers(0, 3))
    if style == 0:
        return [_cyl(0, 0, z0, z1, r, 0)]
    if style == 1:
        zm = (z0 + z1) / 2
        return [_cyl(0, 0, z0, zm, r, 0), _cyl(0, 0, zm, z1, r * 0.75, 0)]
    return [_ell(0, 0, (z0 + z1) / 2, r, r, (z1 - z0) / 2, 0)]


def floor_lamp(rng: np.random.Generator) -> Lamp:
    r, h, sh = rng.uniform(0.16, 0.25), rng.uniform(1.45, 1.75), rng.uniform(0.22, 0.35)
    parts = [_cyl(0, 0, 0, rng.uniform(0.02, 0.04), rng.uniform(0.12, 0.16), 1), _cyl(0, 0, 0.02, h - sh / 2, 0.013, 1)]
    parts += _shade(rng, h - sh, h, r)
    return Lamp("lamp", parts, (2 * r, 2 * r, h), bulb=(0.0, 0.0, h - sh / 2), bulb_radius=0.04)


def table_lamp(rng: np.random.Generator, max_h: float = 0.65) -> Lamp:
    r, h = rng.uniform(0.08, 0.16), min(max_h, rng.uniform(0.32, 0.6))
    sh, body = min(h * 0.4, rng.uniform(0.14, 0.25)), h * rng.uniform(0.25, 0.45)
    rb = r * rng.uniform(0.4, 0.7)
    parts = [_ell(0, 0, body / 2, rb, rb, body / 2, 1) if rng.random() < 0.5 else _cyl(0, 0, 0, body, rb, 1)]
    parts.append(_cyl(0, 0, body, h - sh / 2, 0.01, 1))
    parts += _shade(rng, h - sh, h, r)
    return Lamp("lamp", parts, (2 * r, 2 * r, h), bulb=(0.0, 0.0, h - sh / 2), bulb_radius=0.025)


def ceiling_light(rng: np.random.Generator, pendant: bool = False, drop: float = 0.5) -> Lamp:
    """A flush ceiling light (plate + slot-2 diffuser) or a pendant (canopy, cord ``drop``
    metres, slot-0 shade); z = 0 is its lowest point, z = h touches the ceiling."""
    if not pendant:
        r, hd = rng.uniform(0.15, 0.28), rng.uniform(0.04, 0.1)
        plate = rng.uniform(0.015, 0.03)
        if rng.random() < 0.5:  # drum diffuser under the plate
            h, diff = plate + hd, _cyl(0, 0, 0, hd, r * 0.92, 2)
        else:  # dome: half an ellipsoid shows below the plate, its upper half hides in it
            hd = max(hd, plate)
            h, diff = 2 * hd, _ell(0, 0, hd, r * 0.92, r * 0.92, hd, 2)
        parts = [_cyl(0, 0, h - plate, h, r, 1), diff]
        return Lamp("lamp", parts, (2 * r, 2 * r, h), bulb=(0.0, 0.0, hd / 2), bulb_radius=r * 0.6)
    r, sh = rng.uniform(0.12, 0.25), rng.uniform(0.15, 0.3)
    h = sh + drop + 0.03
    parts = _shade(rng, 0, sh, r) + [_cyl(0, 0, sh, h - 0.03, 0.004, 1), _cyl(0, 0, h - 0.03, h, 0.05, 1)]
    return Lamp("lamp", parts, (2 * r, 2 * r, h), bulb=(0.0, 0.0, sh / 2), bulb_radius=0.04)


# -- plants, screens --------------------------------------------------------------------------
def plant(rng: np.random.Generator, small: bool = False) -> Template:
    """A potted plant: tapered pot (2 drums), soil disc, and a bush of leaf ellipsoids or a
    tall stem with clusters along it; ``small`` for tables and shelves."""
    rp = rng.uniform(0.05, 0.09) if small else rng.uniform(0.12, 0.22)
    ph = rp * rng.uniform(1.0, 1.6)
    parts = [
        _cyl(0, 0, 0, ph * 0.45, rp * 0.8, 1),
        _cyl(0, 0, ph * 0.45, ph, rp, 1),
        _cyl(0, 0, ph - 0.01, ph + 0.006, rp * 0.9, 2),
    ]
    tall = not small and rng.random() < 0.5
    if tall:
        top = ph + rng.uniform(0.7, 1.4)
        parts.append(_cyl(0, 0, ph, top - 0.1, rng.uniform(0.012, 0.025), 2))
        centres = [(0.0, 0.0, z) for z in np.linspace(ph + 0.35 * (top - ph), top - 0.15, int(rng.integers(3, 6)))]
        spread, leaf = rng.uniform(0.18, 0.35), (0.06, 0.13)
    else:
        crown = rp * rng.uniform(1.3, 2.2)
        centres = [(0.0, 0.0, ph + crown * 0.6)]
        spread, leaf = crown, ((0.02, 0.05) if small else (0.05, 0.1))
    for cx, cy, cz in centres:
        for _ in range(int(rng.integers(6, 11)) if tall else int(rng.integers(12, 25))):
            v = rng.normal(size=3)
            v *= rng.uniform(0.3, 1.0) / np.linalg.norm(v)
            rx, rz = rng.uniform(*leaf), rng.uniform(*leaf) * 0.45
            z = max(cz + v[2] * spread * 0.6, ph + rz + 0.01)
            parts.append(_ell(cx + v[0] * spread, cy + v[1] * spread, z, rx, rng.uniform(0.5, 1.0) * rx, rz, 0))
    c = np.array([p.center for p in parts])
    hh = np.array([p.half for p in parts])
    r = float(np.max(np.abs(c[:, :2]) + hh[:, :2]))
    return Template("plant", parts, (2 * r, 2 * r, float((c[:, 2] + hh[:, 2]).max())))


def monitor(rng: np.random.Generator, tv: bool = False, wall: bool = False) -> Template:
    """A desk monitor or a TV: slot-0 screen 3 mm proud of a slot-1 bezel, on a stand (a foot
    and neck, or a TV's two feet) unless ``wall`` (wall mounted; z = 0 its bottom edge)."""
    w = rng.uniform(0.9, 1.45) if tv else rng.uniform(0.5, 0.7)
    sh, bz = w * rng.uniform(0.56, 0.6), rng.uniform(0.008, 0.02)
    if wall:
        d = 0.06
        parts = [
            _box(-w / 2, -d / 2, 0, w / 2, d / 2 - 0.003, sh, 1),
            _box(-w / 2 + bz, d / 2 - 0.003, bz, w / 2 - bz, d / 2, sh - bz, 0),
        ]
        return Template("monitor", parts, (w, d, sh))
    d = rng.uniform(0.2, 0.28)
    z0 = rng.uniform(0.04, 0.1) if tv else rng.uniform(0.1, 0.18)
    parts = [_box(-w / 2, -0.03, z0, w / 2, 0.0, z0 + sh, 1), _box(-w / 2 + bz, 0.0, z0 + bz, w / 2 - bz, 0.003, z0 + sh - bz, 0)]
    if tv and rng.random() < 0.5:  # two feet near the ends
        for s in (-1, 1):
            x = s * w * 0.38
            parts += [_box(x - 0.03, -d / 2, 0, x + 0.03, d / 2, 0.015, 1), _box(x - 0.015, -0.03, 0.015, x + 0.015, 0.0, z0, 1)]
    else:
        fw = w * 0.35 if tv else 0.22
        parts += [_box(-fw / 2, -d / 2, 0, fw / 2, d / 2, 0.015, 1), _box(-0.03, -0.07, 0.015, 0.03, -0.03, z0 + sh * 0.4, 1)]
    return Template("monitor", parts, (w, d, z0 + sh))


# -- small things -----------------------------------------------------------------------------
def book_row(rng: np.random.Generator, width: float, max_h: float, depth: float) -> Template:
    """Upright books side by side (back-aligned), filling up to ``width`` metres; heights below
    ``max_h``, depths below ``depth``. Slots alternate 0 / 1 (appearance varies the colours)."""
    parts, x = [], 0.0
    hmax = min(max_h - 0.01, 0.32)
    while True:
        t = rng.uniform(0.015, 0.06)
        if x + t > width or hmax < 0.12:
            break
        h, dd = rng.uniform(0.12, hmax), rng.uniform(min(0.11, depth), min(0.25, depth))
        parts.append(_box(x, 0, 0, x + t, dd, h, len(parts) % 2))
        x += t + (rng.uniform(0.0, 0.004) if rng.random() < 0.9 else rng.uniform(0.02, 0.06))
    if not parts:
        return Template("clutter", [], (0.0, 0.0, 0.0))
    lo = np.array([p.center for p in parts]) - np.array([p.half for p in parts])
    hi = np.array([p.center for p in parts]) + np.array([p.half for p in parts])
    cx, dmax = (lo[:, 0].min() + hi[:, 0].max()) / 2, hi[:, 1].max()
    parts = [Part(p.kind, (p.center[0] - cx, p.center[1] - dmax / 2, p.center[2]), p.half, p.slot) for p in parts]
    return Template("clutter", parts, (hi[:, 0].max() - lo[:, 0].min(), dmax, hi[:, 2].max()))


CLUTTER_KINDS = ("books", "box", "vase", "bottle", "bowl", "cup", "laptop")


def clutter(rng: np.random.Generator, max_h: float = 0.35, kind: str | None = None) -> Template:
    """A small thing for a surface (CLUTTER_KINDS), at most ``max_h`` metres tall."""
    kinds = [k for k, hmin in zip(CLUTTER_KINDS, (0.03, 0.06, 0.15, 0.2, 0.06, 0.1, 0.2)) if hmin < max_h]
    kind = kind or kinds[int(rng.integers(0, len(kinds)))]
    if kind == "books":  # a stack lying flat, each a little offset
        parts, z = [], 0.0
        w0, d0 = rng.uniform(0.15, 0.3), rng.uniform(0.12, 0.22)
        for k in range(int(rng.integers(1, 6))):
            t = rng.uniform(0.015, 0.05)
            if z + t > max_h:
                break
            w, d = w0 * rng.uniform(0.8, 1.0), d0 * rng.uniform(0.8, 1.0)
            parts.append(_box(-w / 2, -d / 2, z, w / 2, d / 2, z + t, k % 2))
            z += t
        return Template("clutter", parts or [_box(-w0 / 2, -d0 / 2, 0, w0 / 2, d0 / 2, 0.02, 0)], (w0, d0, max(z, 0.02)))
    if kind == "box":
        w, d, h = rng.uniform(0.1, 0.35), rng.uniform(0.1, 0.25), min(max_h, rng.uniform(0.06, 0.2))
        return Template(
            "clutter",
            [_box(-w / 2, -d / 2, 0, w / 2, d / 2, h - 0.02, 0), _box(-w / 2, -d / 2, h - 0.02, w / 2, d / 2, h, 1)],
            (w, d, h),
        )
    if kind == "vase":
        r, h = rng.uniform(0.04, 0.1), min(max_h, rng.uniform(0.15, 0.4))
        body = _ell(0, 0, h * 0.35, r, r, h * 0.35, 0) if rng.random() < 0.5 else _cyl(0, 0, 0, h * 0.7, r, 0)
        return Template("clutter", [body, _cyl(0, 0, h * 0.6, h, r * 0.45, 0)], (2 * r, 2 * r, h))
    if kind == "bottle":
        r, h = rng.uniform(0.03, 0.045), min(max_h, rng.uniform(0.2, 0.32))
        parts = [_cyl(0, 0, 0, h * 0.65, r, 0), _cyl(0, 0, h * 0.65, h - 0.02, r * 0.35, 0), _cyl(0, 0, h - 0.02, h, r * 0.4, 1)]
        return Template("clutter", parts, (2 * r, 2 * r, h))
    if kind == "bowl":
        r, h = rng.uniform(0.08, 0.15), rng.uniform(0.05, 0.08)
        parts = [_cyl(0, 0, 0, h * 0.3, r * 0.5, 0), _cyl(0, 0, h * 0.3, h, r, 0)]
        for _ in range(int(rng.integers(0, 4))):  # fruit
            f = rng.uniform(0.03, 0.04)
            a = rng.uniform(0, 2 * np.pi)
            parts.append(_ell((r - f) * 0.6 * np.cos(a), (r - f) * 0.6 * np.sin(a), h + f * 0.7, f, f, f, 1))
        return Template("clutter", parts, (2 * r, 2 * r, max(h + 0.07 if len(parts) > 2 else h, h)))
    if kind == "cup":
        r, h = rng.uniform(0.035, 0.045), rng.uniform(0.08, 0.1)
        return Template(
            "clutter",
            [_cyl(0, 0, 0, h, r, 0), _box(r - 0.005, -0.005, h * 0.3, r + 0.02, 0.005, h * 0.75, 0)],
            (2 * r + 0.04, 2 * r, h),
        )
    w, d = rng.uniform(0.3, 0.36), rng.uniform(0.21, 0.25)  # laptop, opened (screen upright at the back)
    sh = min(max_h, d * 0.95)
    return Template(
        "clutter",
        [_box(-w / 2, -d / 2, 0, w / 2, d / 2, 0.018, 1), _box(-w / 2, -d / 2, 0.018, w / 2, -d / 2 + 0.007, sh, 0)],
        (w, d, sh),
    )


def floor_clutter(rng: np.random.Generator) -> Template:
    """A basket (with a rim) or a storage box with a lid, on the floor."""
    if rng.random() < 0.5:
        r, h = rng.uniform(0.15, 0.25), rng.uniform(0.2, 0.45)
        return Template("clutter", [_cyl(0, 0, 0, h - 0.03, r * 0.97, 0), _cyl(0, 0, h - 0.03, h, r, 1)], (2 * r, 2 * r, h))
    w, d, h = rng.uniform(0.35, 0.6), rng.uniform(0.3, 0.45), rng.uniform(0.2, 0.4)
    return Template(
        "clutter",
        [
            _box(-w / 2 + 0.01, -d / 2 + 0.01, 0, w / 2 - 0.01, d / 2 - 0.01, h - 0.03, 0),
            _box(-w / 2, -d / 2, h - 0.03, w / 2, d / 2, h, 1),
        ],
        (w, d, h),
    )


def rug(rng: np.random.Generator, w: float | None = None, d: float | None = None) -> Template:
    """A rug ``w`` x ``d`` metres: a flat box or disc (slot 0), sometimes with a slot-1 border."""
    w = rng.uniform(1.4, 2.5) if w is None else w
    d = rng.uniform(1.0, 1.8) if d is None else d
    t, b = rng.uniform(0.008, 0.015), rng.uniform(0.04, 0.1)
    border = rng.random() < 0.4
    if rng.random() < 0.2:  # round
        w = d = min(w, d)
        parts = [_cyl(0, 0, 0, t, w / 2, 0)]
        if border:
            parts = [_cyl(0, 0, 0, t - 0.002, w / 2, 1), _cyl(0, 0, 0, t, w / 2 - b, 0)]
    else:
        parts = [_box(-w / 2, -d / 2, 0, w / 2, d / 2, t, 0)]
        if border:
            parts = [
                _box(-w / 2, -d / 2, 0, w / 2, d / 2, t - 0.002, 1),
                _box(-w / 2 + b, -d / 2 + b, 0, w / 2 - b, d / 2 - b, t, 0),
            ]
    return Template("rug", parts, (w, d, t))


# -- wall objects -----------------------------------------------------------------------------
def door(rng: np.random.Generator, open_doorway: bool = False) -> Template:
    """A door on the wall surface (y = -d/2): casing around the opening, a leaf with raised
    panels 5 mm proud and a lever handle. ``open_doorway``: the casing around a 2 mm dark
    recess box flush with the wall instead of a leaf (the wall box has no hole; the recess,
    labelled 'door', reads as the dark opening)."""
    w, h = rng.choice([0.7, 0.8, 0.9]) + rng.uniform(-0.02, 0.02), rng.uniform(2.0, 2.1)
    c, ct = rng.uniform(0.06, 0.09), rng.uniform(0.015, 0.025)
    d = 0.08
    y0 = -d / 2
    parts = [
        _box(-w / 2 - c, y0, 0, -w / 2, y0 + ct, h, 1),
        _box(w / 2, y0, 0, w / 2 + c, y0 + ct, h, 1),
        _box(-w / 2 - c, y0, h, w / 2 + c, y0 + ct, h + c, 1),
    ]
    if open_doorway:
        parts.append(_box(-w / 2, y0, 0, w / 2, y0 + 0.002, h, 3))
        return Template("door", parts, (w + 2 * c, d, h + c))
    lt = 0.01
    parts.append(_box(-w / 2, y0, 0, w / 2, y0 + lt, h, 0))
    rows, cols = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    if rng.random() < 0.2:
        rows = 0  # a flush leaf
    m = 0.1
    for a, b in _split(-w / 2 + m, w / 2 - m, cols, m):
        for z0, z1 in _split(0.12, h - 0.12, rows, m) if rows else []:
            parts.append(_box(a, y0 + lt, z0, b, y0 + lt + 0.005, z1, 0))
    s = 1 if rng.random() < 0.5 else -1
    hx, hz = s * (w / 2 - 0.06), rng.uniform(1.0, 1.06)
    parts += [
        _box(hx - 0.02, y0 + lt, hz - 0.06, hx + 0.02, y0 + lt + 0.01, hz + 0.06, 2),  # rose plate
        _box(min(hx, hx - s * 0.12), y0 + lt + 0.045, hz - 0.01, max(hx, hx - s * 0.12), y0 + lt + 0.065, hz + 0.01, 2),  # lever
        _cyl(hx, y0 + lt + 0.03, hz - 0.01, hz + 0.01, 0.01, 2),  # neck
    ]
    return Template("door", parts, (w + 2 * c, d, h + c))


def window(rng: np.random.Generator, w: float | None = None, h: float | None = None) -> Template:
    """A window on the wall (y = -d/2): glass pane (slot 0, nothing else is slot 0), frame,
    mullions and sometimes a transom (slot 1), a sill below (slot 2); z = 0 the sill's bottom."""
    w = rng.uniform(0.6, 2.0) if w is None else w
    h = rng.uniform(0.9, 1.5) if h is None else h
    f, fd = rng.uniform(0.04, 0.08), rng.uniform(0.03, 0.05)
    st, sd, ear = rng.uniform(0.02, 0.04), rng.uniform(0.08, 0.18), rng.uniform(0.02, 0.05)
    W, d = w + 2 * f, sd
    y0 = -d / 2
    z0 = st  # bottom of the frame
    parts = [
        _box(-w / 2, y0, z0 + f, w / 2, y0 + 0.005, z0 + f + h, 0),  # pane
        _box(-W / 2, y0, z0, W / 2, y0 + fd, z0 + f, 1),
        _box(-W / 2, y0, z0 + f + h, W / 2, y0 + fd, z0 + 2 * f + h, 1),
        _box(-W / 2, y0, z0 + f, -w / 2, y0 + fd, z0 + f + h, 1),
        _box(w / 2, y0, z0 + f, W / 2, y0 + fd, z0 + f + h, 1),
        _box(-W / 2 - ear, y0, 0, W / 2 + ear, y0 + sd, st, 2),  # sill
    ]
    m = f * 0.6
    for k in range(1, max(1, round(w / 0.7))):
        x = -w / 2 + k * w / max(1, round(w / 0.7))
        parts.append(_box(x - m / 2, y0, z0 + f, x + m / 2, y0 + fd * 0.8, z0 + f + h, 1))
    if h > 1.2 and rng.random() < 0.4:
        z = z0 + f + h * 0.72
        parts.append(_box(-w / 2, y0, z - m / 2, w / 2, y0 + fd * 0.8, z + m / 2, 1))
    return Template("window", parts, (W + 2 * ear, d, 2 * f + h + st))


def curtain(rng: np.random.Generator, w: float, h: float) -> Template:
    """One curtain panel (class 'window', slot 3) ``w`` wide hanging ``h`` high (from a ceiling
    track: the layout hangs it a few cm off the wall), with vertical folds as narrow boxes in front."""
    d = 0.08
    y0 = -d / 2
    parts = [_box(-w / 2, y0, 0.01, w / 2, y0 + 0.02, h, 3)]
    n = max(2, int(w / 0.12))
    for k in range(n):
        x = -w / 2 + (k + 0.5) * w / n
        fw = rng.uniform(0.03, 0.05)
        parts.append(_box(x - fw / 2, y0 + 0.02, 0.01, x + fw / 2, y0 + 0.02 + rng.uniform(0.02, 0.06), h, 3))
    return Template("window", parts, (w, d, h))


def picture(rng: np.random.Generator, w: float | None = None, h: float | None = None, mirror: bool = False) -> Template:
    """A framed picture (canvas slot 0 inside four slot-1 frame bars) or a canvas on a backing
    box; ``mirror``: a large portrait frame (0.5-0.8 x 0.9-1.4 m). z = 0 its bottom edge."""
    if mirror:
        w, h = rng.uniform(0.5, 0.8), rng.uniform(0.9, 1.4)
    w = rng.uniform(0.3, 1.2) if w is None else w
    h = float(np.clip(w * rng.uniform(0.6, 1.4), 0.3, 1.2)) if h is None else h
    f, d = rng.uniform(0.02, 0.06), rng.uniform(0.02, 0.04)
    y0 = -d / 2
    if rng.random() < 0.7 or mirror:
        parts = [
            _box(-w / 2 + f, y0, f, w / 2 - f, y0 + d * 0.5, h - f, 0),
            _box(-w / 2, y0, 0, w / 2, y0 + d, f, 1),
            _box(-w / 2, y0, h - f, w / 2, y0 + d, h, 1),
            _box(-w / 2, y0, f, -w / 2 + f, y0 + d, h - f, 1),
            _box(w / 2 - f, y0, f, w / 2, y0 + d, h - f, 1),
        ]
    else:
        parts = [
            _box(-w / 2, y0, 0, w / 2, y0 + d - 0.003, h, 1),
            _box(-w / 2 + 0.003, y0 + d - 0.003, 0.003, w / 2 - 0.003, y0 + d, h - 0.003, 0),
        ]
    return Template("picture", parts, (w, d, h))

"""Materials of SynthRooms ``v2`` objects: each class draws from the material families real
interiors use for it, within a room style that keeps a room coherent (one wall finish, one
floor, one trim, one furniture wood, one textile palette).

Colours are written as display (sRGB) hex codes of real paints, woods and fabrics and turned
into linear albedo, capped at ``MAX_ALBEDO`` (white paint reflects ~80 %). Families overlap
where real rooms do: white cabinets against white walls, a wooden table on a wooden floor.

======== ======================================================================================
class    families (slot: family)
======== ======================================================================================
wall     0: paint (plaster) / wallpaper / brick / panelling; 1: trim (skirting)
floor    0: wood planks / tiles / carpet / concrete
ceiling  0: white plaster / wood panelling
door     0: painted (trim colour or other) / wood / plank panels; 1: trim; 2: metal handle; 3: near-black recess (open doorway)
window   0: window view (emissive glass); 1: white paint / aluminium / wood; 2: sill; 3: curtain
table    0: wood / laminate / glass / stone / painted; 1: legs: same wood / metal / painted
chair    0: wood / plastic / fabric / leather; 1: legs: wood / metal; 2: upholstery
sofa     0: fabric weave / leather; 1: legs, plinth; 2: cushions (same or accent fabric)
bed      0: duvet (plain / stripes / checks); 1: wood / upholstered / painted; 2: pillows; 3: sheet
cabinet  0: painted / wood / laminate; 1: fronts (mostly = body); 2: metal handles; 3: top
shelf    0: wood / laminate / painted; 1: back panel (same, wall paint or contrast)
lamp     0: glowing shade (fabric or opal glass); 1: base: metal / ceramic / wood; 2: diffuser
picture  0: canvas (abstract or landscape); 1: frame: black / white / wood / gold
rug      0: patterned rug (medallion / trellis / kilim) / plain textured rug
plant    0: foliage; 1: pot: terracotta / ceramic; 2: soil
monitor  0: screen (near black, reflective); 1: bezel and stand: black / grey / silver
clutter  0, 1: books / painted things / ceramics / glass or metal / cardboard
======== ======================================================================================
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, replace

import numpy as np

from rtgs2.synth import textures as tx
from rtgs2.synth.materials import Material

Color = tuple[float, float, float]
MAX_ALBEDO = 0.8  # linear albedo of the whitest paint

WHITES = ("F4F2EC", "EFECE3", "F2EFE6", "EAE7DF", "F5F3EF")
NEUTRALS = ("DDD5C8", "D5D5D0", "E3D6C2", "CFC8BC", "E6E0D4", "C9CBC7")
PASTELS = ("CBD8E0", "D3E2D2", "EBD4CC", "EFE6C4", "D9D3E0", "D6E3E3")
ACCENTS = ("9CAF88", "2E3B55", "B5654A", "3F5A46", "C9A13B", "4A4D50", "C9A3A0", "3C6E71", "7A8B99")
WOODS = (  # (light, dark) of: light oak, oak, walnut, cherry, pine, espresso, whitewashed, grey-washed
    ("C8A27A", "A87F55"), ("B08556", "8A6238"), ("6B4A32", "4A3020"), ("9A5B3C", "6E3B25"),
    ("D4B07E", "B38A57"), ("3E2B20", "2A1B12"), ("D8CBB5", "B9A88E"), ("A59C8F", "857A6D"),
)  # fmt: skip
TEXTILE_NEUTRALS = ("8C8C88", "B7AE9F", "E2DCCF", "4B4C4E", "6D6A64", "A39B8E", "D8D3CA")
TEXTILE_ACCENTS = ("C9A13B", "3C6E71", "A5532F", "2E3B55", "7F9172", "C99A9A", "5B3F5E", "8A2E2E")
METALS = {"chrome": "B8BBBE", "steel": "9A9C9E", "black": "1C1C1E", "brass": "B08D4A", "white": "E8E8E4"}
LEATHERS = ("8B4A2B", "5A3A2A", "1E1C1B", "A0724A", "6B2E22")
TERRACOTTA = ("B5653F", "9C5433")
RUG_PALETTES = (
    ("8E2B2B", "26344F", "E5D9C0"), ("B7AE9F", "4B4C4E", "E2DCCF"), ("A5532F", "C9A13B", "E8DFCC"),
    ("3C6E71", "E2DCCF", "B5654A"), ("2E3B55", "C9BFA8", "8E2B2B"), ("D8D3CA", "6D6A64", "A39B8E"),
)  # fmt: skip


def _lin(code: str, gain: float = 1.0) -> Color:
    """Linear albedo of a display hex colour (times ``gain``), capped at ``MAX_ALBEDO``."""
    rgb = np.array([int(code[i : i + 2], 16) for i in (0, 2, 4)]) / 255.0
    lin = rgb**2.2 * gain
    lin = lin * min(1.0, MAX_ALBEDO / max(float(lin.max()), 1e-6))
    return tuple(float(v) for v in np.clip(lin, 0.0, 1.0))


def _jit(rng: np.random.Generator, c: Color, dv: float = 0.08, dh: float = 0.015, ds: float = 0.1) -> Color:
    """``c`` with its display value, hue and saturation jittered (an object's own shade)."""
    h, s, v = colorsys.rgb_to_hsv(*(np.asarray(c) ** (1 / 2.2)))
    h, s, v = h + rng.uniform(-dh, dh), s * rng.uniform(1 - ds, 1 + ds), v * rng.uniform(1 - dv, 1 + dv)
    rgb = np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))) ** 2.2
    return tuple(float(x) for x in np.minimum(rgb, MAX_ALBEDO))


def _shade(c: Color, k: float) -> Color:
    return tuple(float(min(v * k, MAX_ALBEDO)) for v in c)


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(0, len(options)))]


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """A key of ``weights`` drawn with those (relative) probabilities."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _mat(rng: np.random.Generator, a: Color, pattern: int, b: Color | None = None, **kw) -> Material:
    """A material with a fresh noise seed; defaults: matte (``specular`` 0.02), ``axis`` 2."""
    kw.setdefault("scale", 0.1)
    kw.setdefault("axis", 2)
    kw.setdefault("specular", 0.02)
    kw.setdefault("shininess", 10.0)
    return Material(a=a, b=a if b is None else b, pattern=pattern, seed=int(rng.integers(0, 2**31)), **kw)


# ----------------------------------------------------------------------------- families


def paint(rng: np.random.Generator, col: Color, gloss: float = 0.02) -> Material:
    """Flat painted surface (furniture, trim, doors)."""
    return _mat(rng, _jit(rng, col, 0.03, 0.005, 0.05), tx.PAINTED, specular=gloss, shininess=20.0)


def wood(rng: np.random.Generator, tone: tuple[Color, Color], axis: int = 0, varnish: float = 0.15) -> Material:
    """Furniture wood of ``tone`` (light, dark), grain along ``axis``."""
    k = rng.uniform(0.88, 1.12)
    return _mat(
        rng, _shade(tone[0], k), tx.WOOD, _shade(tone[1], k), scale=rng.uniform(0.003, 0.008), axis=axis,
        specular=varnish * rng.uniform(0.7, 1.5), shininess=rng.uniform(25, 70), reflect=rng.uniform(0.0, 0.03),
    )  # fmt: skip


def metal(rng: np.random.Generator, finish: str, axis: int = 2) -> Material:
    a = _lin(METALS[finish])
    shiny = finish in ("chrome", "brass", "steel")
    return _mat(
        rng, a, tx.METAL, _shade(a, 0.8), axis=axis, specular=rng.uniform(0.5, 0.8) if shiny else 0.25,
        shininess=rng.uniform(60, 150), reflect=rng.uniform(0.1, 0.3) if shiny else 0.03,
    )  # fmt: skip


def fabric(rng: np.random.Generator, col: Color, second: Color | None = None) -> Material:
    """Woven fabric of ``col``, heathered with ``second`` (default: a shade of ``col``)."""
    b = second if second is not None else _shade(col, rng.uniform(0.75, 0.95))
    return _mat(rng, _jit(rng, col, 0.05), tx.WEAVE, b, scale=rng.uniform(0.001, 0.003), specular=0.0, shininess=5.0)


def leather(rng: np.random.Generator) -> Material:
    a = _jit(rng, _lin(_pick(rng, LEATHERS)))
    return _mat(rng, a, tx.LEATHER, _shade(a, 0.75), specular=rng.uniform(0.15, 0.3), shininess=rng.uniform(15, 40))


def laminate(rng: np.random.Generator, col: Color, axis: int = 0) -> Material:
    return _mat(rng, col, tx.LAMINATE, _shade(col, 0.88), axis=axis, specular=rng.uniform(0.05, 0.2), shininess=30.0)


def stone(rng: np.random.Generator) -> Material:
    """Marble (white or black, veined) or granite / terrazzo (speckled)."""
    kind = _choice(rng, {"white": 0.45, "black": 0.2, "granite": 0.35})
    if kind == "white":
        a, b, c, param = _lin("ECEAE5"), _lin("8E8C88"), _lin("D0CCC4"), 0.0
    elif kind == "black":
        a, b, c, param = _lin("28282A"), _lin("C9C6C0"), _lin("505052"), 0.0
    else:
        a, b, c, param = _jit(rng, _lin(_pick(rng, ("A8A49C", "6E6B66", "C9C0B0")))), _lin("3A3936"), _lin("E8E4DC"), 1.0
    return _mat(
        rng, a, tx.STONE, b, c=c, param=param, scale=rng.uniform(0.1, 0.3), specular=rng.uniform(0.3, 0.5),
        shininess=rng.uniform(60, 120), reflect=rng.uniform(0.04, 0.1),
    )  # fmt: skip


def glass(rng: np.random.Generator) -> Material:
    return _mat(rng, _lin(_pick(rng, ("1E2624", "2A2F30", "3B4441"))), tx.GLASS, specular=0.8, shininess=200.0, reflect=rng.uniform(0.1, 0.2))


def ceramic(rng: np.random.Generator) -> Material:
    kind = _choice(rng, {"terracotta": 0.4, "white": 0.25, "grey": 0.15, "black": 0.1, "glaze": 0.1})
    if kind == "terracotta":
        a, spec = _lin(_pick(rng, TERRACOTTA)), 0.05
    elif kind == "glaze":
        a, spec = _lin(_pick(rng, ACCENTS + TEXTILE_ACCENTS)), 0.4
    else:
        a, spec = _lin({"white": "E9E6E0", "grey": "8E8D89", "black": "2A2A2A"}[kind]), 0.3
    a = _jit(rng, a)
    return _mat(rng, a, tx.CERAMIC, _shade(a, 0.85), specular=spec, shininess=40.0)


# ----------------------------------------------------------------------------- room style


@dataclass(frozen=True)
class RoomStyle:
    """Room-level appearance: the shell's materials (``wall``, ``floor``, ``ceiling``), the
    ``trim`` of skirting, frames and doors, the wall's paint colour ``wall_color``, the
    furniture ``wood`` tone (light, dark linear colours), the ``textiles`` palette (4 linear
    colours: mostly neutrals, one or two accents) and the ``metal`` finish of handles and legs."""

    wall: Material
    floor: Material
    ceiling: Material
    trim: Material
    wall_color: Color
    wood: tuple[Color, Color]
    textiles: tuple[Color, Color, Color, Color]
    metal: str


def _wood_tone(rng: np.random.Generator) -> tuple[Color, Color]:
    light, dark = _pick(rng, WOODS)
    return _lin(light), _lin(dark)


def _wall(rng: np.random.Generator) -> tuple[Material, Color]:
    kind = _choice(rng, {"paint": 0.68, "wallpaper": 0.12, "brick": 0.08, "panelling": 0.12})
    family = _choice(rng, {"white": 0.4, "neutral": 0.3, "pastel": 0.15, "accent": 0.15})
    col = _jit(rng, _lin(_pick(rng, {"white": WHITES, "neutral": NEUTRALS, "pastel": PASTELS, "accent": ACCENTS}[family])), 0.04)
    if kind == "paint":
        m = _mat(rng, col, tx.PLASTER, _jit(rng, _shade(col, 0.95), 0.02), scale=rng.uniform(0.4, 1.2), axis=0)
    elif kind == "wallpaper":
        motif = rng.random() < 0.5
        b = _shade(col, rng.uniform(0.75, 0.92)) if rng.random() < 0.6 else _lin(_pick(rng, PASTELS + NEUTRALS))
        m = _mat(rng, col, tx.WALLPAPER, b, c=_shade(b, 0.7), param=1.0 if motif else 0.0, scale=rng.uniform(0.05, 0.2), axis=0)
    elif kind == "brick":
        if rng.random() < 0.6:
            col, b, c = _lin("9C4A33"), _lin("7A3526"), _lin("BDB6A8")
        else:  # painted brick
            col, b, c = _lin("E8E4DC"), _lin("D5CFC4"), _lin("CFC9BE")
        m = _mat(rng, _jit(rng, col), tx.BRICK, b, c=c, scale=rng.uniform(0.215, 0.23), param=rng.uniform(0.065, 0.075), axis=0)
    else:
        grain = rng.random() < 0.4
        if grain:
            col, b = _wood_tone(rng)
        else:
            b = _shade(col, 0.95)
        m = _mat(rng, col, tx.PANELLING, b, c=_shade(col, 0.55), scale=rng.uniform(0.1, 0.2), param=float(grain), axis=0)
    return m, col


def _floor(rng: np.random.Generator) -> Material:
    kind = _choice(rng, {"planks": 0.52, "tiles": 0.22, "carpet": 0.16, "concrete": 0.1})
    if kind == "planks":
        light, dark = _wood_tone(rng)
        k = rng.uniform(0.85, 1.1)
        return _mat(
            rng, _shade(light, k), tx.PLANKS, _shade(dark, k), c=_shade(dark, 0.35), scale=rng.uniform(0.8, 2.0),
            param=rng.uniform(0.1, 0.25), specular=rng.uniform(0.1, 0.3), shininess=rng.uniform(20, 60), reflect=rng.uniform(0.03, 0.1),
        )  # fmt: skip
    if kind == "tiles":
        a = _jit(rng, _lin(_pick(rng, ("F0EEE8", "D9D6CF", "BDB8AE", "8E8B86", "C7B59A", "B5653F", "4A4B4D", "E4DCCB"))))
        b = _jit(rng, _shade(a, rng.uniform(0.85, 1.0)), 0.05)
        grout = _lin(_pick(rng, ("CFCBC2", "9A968E", "4A4846")))
        ar = 1.0 if rng.random() < 0.7 else float(rng.uniform(2.0, 3.0))
        return _mat(
            rng, a, tx.TILES, b, c=grout, scale=rng.uniform(0.2, 0.6) / (1 if ar == 1 else 2), param=ar,
            specular=rng.uniform(0.2, 0.4), shininess=rng.uniform(40, 90), reflect=rng.uniform(0.05, 0.12),
        )  # fmt: skip
    if kind == "carpet":
        a = _jit(rng, _lin(_pick(rng, ("A39B8E", "8C8C88", "6F7A86", "7B6A58", "B9B0A0", "5E6B5A"))))
        return _mat(rng, a, tx.CARPET, _jit(rng, _shade(a, 0.85), 0.05), scale=rng.uniform(0.3, 0.8), specular=0.0)
    a = _jit(rng, _lin(_pick(rng, ("A7A49E", "8F8C86", "B5B0A6"))))
    return _mat(rng, a, tx.CONCRETE, _shade(a, 0.85), scale=rng.uniform(0.3, 1.0), specular=0.1, shininess=30.0, reflect=rng.uniform(0.02, 0.05))


def room_style(rng: np.random.Generator) -> RoomStyle:
    """A room's appearance choices, drawn from ``rng`` in a fixed order."""
    wall, wall_color = _wall(rng)
    floor = _floor(rng)
    if rng.random() < 0.9:
        c = _jit(rng, _lin(_pick(rng, WHITES)), 0.03)
        ceiling = _mat(rng, c, tx.PLASTER, _shade(c, 0.96), scale=rng.uniform(0.5, 1.5))
    else:
        light, dark = _wood_tone(rng)
        ceiling = _mat(rng, light, tx.PANELLING, dark, c=_shade(dark, 0.5), scale=rng.uniform(0.1, 0.2), param=1.0)
    wood_tone = _wood_tone(rng)
    trim_kind = _choice(rng, {"white": 0.65, "wood": 0.25, "dark": 0.1})
    if trim_kind == "white":
        trim = paint(rng, _lin(_pick(rng, WHITES)), 0.1)
    elif trim_kind == "wood":
        trim = wood(rng, wood_tone, axis=0)
    else:
        trim = paint(rng, _lin(_pick(rng, ("4A4D50", "2B2B2D", "8E8D89"))), 0.1)
    textiles = [_lin(_pick(rng, TEXTILE_NEUTRALS)) for _ in range(2)] + [_lin(_pick(rng, TEXTILE_ACCENTS)) for _ in range(2)]
    if rng.random() < 0.4:  # a calm room: one accent only
        textiles[3] = _lin(_pick(rng, TEXTILE_NEUTRALS))
    metal_finish = _choice(rng, {"chrome": 0.3, "steel": 0.25, "black": 0.3, "brass": 0.15})
    return RoomStyle(wall, floor, ceiling, trim, wall_color, wood_tone, tuple(textiles), metal_finish)


# ----------------------------------------------------------------------------- classes


def _textile(rng: np.random.Generator, style: RoomStyle, accent: float = 0.3) -> Color:
    """A colour of the room's textile palette (an accent with probability ``accent``)."""
    return _jit(rng, style.textiles[int(rng.integers(2, 4)) if rng.random() < accent else int(rng.integers(0, 2))], 0.06)


def _furniture_surface(rng: np.random.Generator, style: RoomStyle, weights: dict[str, float], axis: int = 0) -> Material:
    """A case-furniture surface: the room's wood, another wood, laminate, painted or stone."""
    kind = _choice(rng, weights)
    if kind == "wood":
        return wood(rng, style.wood if rng.random() < 0.6 else _wood_tone(rng), axis=axis)
    if kind == "laminate":
        col = _lin(_pick(rng, ("F0EEE8", "D5D5D0", "2B2B2D", "C8A27A", "B9A88E")))
        return laminate(rng, _jit(rng, col, 0.04), axis)
    if kind == "white":  # often the wall's own white: furniture that blends into the room
        return paint(rng, style.wall_color if rng.random() < 0.4 else _lin(_pick(rng, WHITES)), 0.08)
    if kind == "stone":
        return stone(rng)
    if kind == "glass":
        return glass(rng)
    return paint(rng, _lin(_pick(rng, ACCENTS + ("2B2B2D", "8E8D89", "D5D5D0"))), 0.08)


def _legs(rng: np.random.Generator, style: RoomStyle, top: Material) -> Material:
    kind = _choice(rng, {"same": 0.35 if top.pattern == tx.WOOD else 0.0, "wood": 0.2, "metal": 0.35, "paint": 0.1})
    if kind == "same":
        return replace(top, axis=2)  # legs grain runs up
    if kind == "wood":
        return wood(rng, style.wood, axis=2)
    if kind == "metal":
        return metal(rng, style.metal if rng.random() < 0.7 else "black")
    return paint(rng, _lin(_pick(rng, ("2B2B2D", "F0EEE8", "8E8D89"))), 0.1)


def _clutter_one(rng: np.random.Generator, style: RoomStyle) -> Material:
    kind = _choice(rng, {"books": 0.3, "painted": 0.3, "ceramic": 0.2, "glass_metal": 0.1, "cardboard": 0.1})
    if kind == "books":
        cols = [_lin(_pick(rng, ACCENTS + TEXTILE_ACCENTS + TEXTILE_NEUTRALS + WHITES)) for _ in range(3)]
        return _mat(rng, cols[0], tx.BLOCKS, cols[1], c=cols[2], scale=rng.uniform(0.015, 0.05), param=rng.uniform(0.3, 0.8), axis=int(rng.integers(0, 3)), specular=0.05)
    if kind == "painted":
        h, s, v = rng.random(), rng.choice([rng.uniform(0.05, 0.3), rng.uniform(0.5, 0.9)]), rng.uniform(0.3, 0.95)
        return paint(rng, tuple(float(c) ** 2.2 for c in colorsys.hsv_to_rgb(h, s, v)), float(rng.choice([0.05, 0.3])))
    if kind == "ceramic":
        return ceramic(rng)
    if kind == "glass_metal":
        return glass(rng) if rng.random() < 0.5 else metal(rng, _pick(rng, tuple(METALS)))
    kraft = _jit(rng, _lin("A67B5B"))
    return _mat(rng, kraft, tx.LAMINATE, _shade(kraft, 0.9), axis=int(rng.integers(0, 3)))


def object_materials(cls: str, rng: np.random.Generator, style: RoomStyle) -> tuple[Material, Material, Material, Material]:
    """Four materials (slots 0-3) of an object of class ``cls`` in a room of ``style`` (slot
    meanings in the module docstring; unused slots repeat). Draws from ``rng`` in a fixed order.

    Raises:
        ValueError: an unknown class."""
    if cls == "wall":
        return (style.wall, style.trim, style.trim, style.trim)
    if cls == "floor":
        return (style.floor,) * 4
    if cls == "ceiling":
        return (style.ceiling,) * 4
    if cls == "door":
        kind = _choice(rng, {"trim": 0.4, "paint": 0.12, "wood": 0.38, "planks": 0.1})
        if kind == "trim":
            leaf = style.trim if style.trim.pattern == tx.PAINTED else paint(rng, _lin(_pick(rng, WHITES)), 0.1)
        elif kind == "paint":
            leaf = paint(rng, _lin(_pick(rng, ACCENTS + NEUTRALS)), 0.1)
        elif kind == "wood":
            leaf = wood(rng, style.wood if rng.random() < 0.5 else _wood_tone(rng), axis=2)
        else:
            light, dark = _wood_tone(rng)
            leaf = _mat(rng, light, tx.PANELLING, dark, c=_shade(dark, 0.5), scale=rng.uniform(0.1, 0.15), param=1.0, axis=0, specular=0.1)
        handle = metal(rng, style.metal)
        recess = paint(rng, (0.015, 0.015, 0.018), 0.0)  # the dark space beyond an open doorway
        return (leaf, style.trim, handle, recess)
    if cls == "window":
        pane = _mat(rng, (0.1, 0.12, 0.13), tx.WINDOW_VIEW, emission=1.0, reflect=0.08, specular=0.6, shininess=150.0, axis=0)
        kind = _choice(rng, {"white": 0.6, "alu": 0.2, "wood": 0.2})
        frame = paint(rng, _lin(_pick(rng, WHITES)), 0.15) if kind == "white" else metal(rng, "steel") if kind == "alu" else wood(rng, style.wood, 2)
        sill = _choice(rng, {"frame": 0.5, "stone": 0.25, "trim": 0.25})
        sill = frame if sill == "frame" else stone(rng) if sill == "stone" else style.trim
        linen = rng.random() < 0.5
        curtain = fabric(rng, _lin(_pick(rng, ("EFEBE2", "E2DCCF", "D8D3CA"))) if linen else _textile(rng, style, 0.5))
        return (pane, frame, sill, curtain)
    if cls == "table":
        top = _furniture_surface(rng, style, {"wood": 0.45, "laminate": 0.15, "glass": 0.08, "stone": 0.15, "white": 0.1, "paint": 0.07})
        legs = _legs(rng, style, top)
        return (top, legs, legs, top)
    if cls == "chair":
        kind = _choice(rng, {"wood": 0.35, "plastic": 0.3, "fabric": 0.2, "leather": 0.15})
        if kind == "wood":
            shell = wood(rng, style.wood if rng.random() < 0.6 else _wood_tone(rng))
        elif kind == "plastic":
            shell = paint(rng, _lin(_pick(rng, WHITES[:2] + ("2B2B2D", "8E8D89") + ACCENTS)), 0.25)
        else:
            shell = fabric(rng, _textile(rng, style)) if kind == "fabric" else leather(rng)
        legs = _legs(rng, style, shell)
        seat = fabric(rng, _textile(rng, style, 0.4)) if rng.random() < 0.7 else leather(rng)
        return (shell, legs, seat, seat)
    if cls == "sofa":
        body = fabric(rng, _textile(rng, style, 0.3)) if rng.random() < 0.75 else leather(rng)
        legs = wood(rng, _wood_tone(rng), 2) if rng.random() < 0.5 else metal(rng, "black")
        cushions = body if rng.random() < 0.5 else fabric(rng, _textile(rng, style, 0.7))
        return (body, legs, cushions, body)
    if cls == "bed":
        kind = int(rng.choice(3, p=[0.6, 0.2, 0.2]))  # plain, stripes, checks
        base = _jit(rng, _lin(_pick(rng, WHITES + PASTELS[:3]))) if rng.random() < 0.5 else _textile(rng, style, 0.3)
        second = _textile(rng, style, 0.6) if kind else base
        duvet = _mat(rng, base, tx.BEDDING, second, param=float(kind), scale=rng.uniform(0.05, 0.15), specular=0.0)
        fk = _choice(rng, {"wood": 0.55, "upholstered": 0.35, "painted": 0.1})
        frame = wood(rng, style.wood, 0) if fk == "wood" else fabric(rng, _textile(rng, style)) if fk == "upholstered" else paint(rng, _lin(_pick(rng, WHITES + ("2B2B2D",))), 0.1)
        pillows = fabric(rng, _jit(rng, _lin(_pick(rng, WHITES)))) if rng.random() < 0.6 else fabric(rng, _textile(rng, style, 0.5))
        sheet = fabric(rng, _jit(rng, _lin(_pick(rng, ("EEEDE8", "F2F0EA", "E4E1DA"))), 0.03))
        return (duvet, frame, pillows, sheet)
    if cls == "cabinet":
        body = _furniture_surface(rng, style, {"white": 0.3, "paint": 0.1, "wood": 0.35, "laminate": 0.25})
        fronts = body if rng.random() < 0.7 else _furniture_surface(rng, style, {"wood": 0.5, "white": 0.3, "paint": 0.2})
        top = body if rng.random() < 0.75 else _furniture_surface(rng, style, {"stone": 0.5, "wood": 0.5})
        return (body, fronts, metal(rng, style.metal), top)
    if cls == "shelf":
        boards = _furniture_surface(rng, style, {"wood": 0.5, "laminate": 0.3, "white": 0.1, "paint": 0.1})
        k = _choice(rng, {"same": 0.6, "wall": 0.25, "contrast": 0.15})
        back = boards if k == "same" else paint(rng, style.wall_color) if k == "wall" else _furniture_surface(rng, style, {"paint": 0.5, "wood": 0.5})
        return (boards, back, boards, boards)
    if cls == "lamp":
        col = _jit(rng, _lin(_pick(rng, ("F4F0E6", "EDE3CF", "E2D6BE", "D8D3CA") + (TEXTILE_ACCENTS if rng.random() < 0.15 else ()))), 0.04)
        if rng.random() < 0.75:
            shade = _mat(rng, col, tx.SHADE, specular=0.0, emission=rng.uniform(0.6, 1.5))
        else:  # opal glass
            shade = _mat(rng, _lin("F2F0EC"), tx.GLASS, specular=0.5, shininess=80.0, emission=rng.uniform(0.8, 1.5), reflect=0.05)
        kind = _choice(rng, {"metal": 0.45, "ceramic": 0.3, "wood": 0.25})
        base = metal(rng, style.metal if rng.random() < 0.6 else _pick(rng, tuple(METALS)), 2) if kind == "metal" else ceramic(rng) if kind == "ceramic" else wood(rng, style.wood, 2)
        diffuser = _mat(rng, _lin("F4F3F0"), tx.PAINTED, emission=rng.uniform(1.0, 1.5), specular=0.1)
        return (shade, base, diffuser, diffuser)
    if cls == "picture":
        # analogous hues with one possible complement, moderate saturation: paintings and photos
        h0, sat = rng.random(), rng.uniform(0.15, 0.6)
        hues = (h0, h0 + rng.uniform(-0.1, 0.1), h0 + (0.5 if rng.random() < 0.4 else rng.uniform(-0.15, 0.15)))
        cols = [tuple(float(c) ** 2.2 for c in colorsys.hsv_to_rgb(h % 1.0, min(sat * rng.uniform(0.6, 1.3), 1.0), rng.uniform(0.25, 0.9))) for h in hues]
        img = _mat(rng, cols[0], tx.CANVAS, cols[1], c=cols[2], axis=0, specular=0.05, shininess=20.0)
        kind = _choice(rng, {"black": 0.3, "white": 0.25, "wood": 0.3, "gold": 0.15})
        if kind == "wood":
            frame = wood(rng, _wood_tone(rng), 0)
        elif kind == "gold":
            frame = _mat(rng, _lin("B8923E"), tx.METAL, _lin("8A6A2A"), specular=0.4, shininess=40.0)
        else:
            frame = paint(rng, _lin("1E1E1F" if kind == "black" else "F0EEE8"), 0.1)
        return (img, frame, frame, frame)
    if cls == "rug":
        if rng.random() < 0.6:
            pal = [_jit(rng, _lin(c), 0.05) for c in _pick(rng, RUG_PALETTES)]
            m = _mat(rng, pal[0], tx.RUG, pal[1], c=pal[2], scale=0.4, specular=0.0)
        else:
            a = _textile(rng, style, 0.4)
            m = _mat(rng, a, tx.CARPET, _jit(rng, _shade(a, 0.8), 0.05), scale=rng.uniform(0.2, 0.5), specular=0.0)
        return (m,) * 4
    if cls == "plant":
        greens = [_jit(rng, _lin(c), 0.1) for c in ("3E6B2E", "5E8F3E", _pick(rng, ("8FB35A", "2C4A26", "7A9A3A")))]
        leaves = _mat(rng, greens[0], tx.FOLIAGE, greens[1], c=greens[2], scale=rng.uniform(0.025, 0.06), specular=0.1, shininess=20.0)
        soil = _mat(rng, _lin("3B2A1E"), tx.SOIL, _lin("22180F"), c=_lin("CFCBC0"))
        return (leaves, ceramic(rng), soil, soil)
    if cls == "monitor":
        screen = _mat(rng, (0.008, 0.009, 0.011), tx.SCREEN, (0.025, 0.027, 0.032), axis=0, specular=0.6, shininess=120.0, reflect=0.15)
        kind = _choice(rng, {"black": 0.6, "grey": 0.2, "silver": 0.2})
        bezel = paint(rng, _lin("1C1C1E" if kind == "black" else "6E6F71"), 0.2) if kind != "silver" else metal(rng, "steel")
        return (screen, bezel, bezel, bezel)
    if cls == "clutter":
        return (_clutter_one(rng, style), _clutter_one(rng, style), _clutter_one(rng, style), _clutter_one(rng, style))
    raise ValueError(f"unknown class {cls!r}")


def fit_rug(m: Material, width: float, depth: float) -> Material:
    """A patterned rug's material with its border drawn at the rug's own edges (``width`` x
    ``depth`` metres, along the rug's x and y); other materials are returned unchanged."""
    return replace(m, param=width / 2, scale=depth / 2) if m.pattern == tx.RUG else m

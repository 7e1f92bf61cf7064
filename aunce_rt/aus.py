"""The Action Unit catalogue: FACS codes, names, and the AU set of each benchmark.

This is the one place AU facts live; training, export and the runtime read them
from here, so a model's AU list, a dataset's label columns and a CSV header
always agree.

Example:
    >>> from aunce_rt.aus import BENCHMARK_AUS, au_name
    >>> BENCHMARK_AUS["bp4d"][:3]
    (1, 2, 4)
    >>> au_name(12)
    'Lip Corner Puller'
"""

from __future__ import annotations

from dataclasses import dataclass

from aunce_rt.errors import InputError


@dataclass(frozen=True)
class ActionUnit:
    """One FACS Action Unit.

    Attributes:
        code: FACS number, e.g. 12.
        name: FACS name, e.g. "Lip Corner Puller".
        region: "upper" or "lower" face.
    """

    code: int
    name: str
    region: str

    @property
    def label(self) -> str:
        """Column-style label, zero-padded as OpenFace writes it: ``AU01``."""
        return f"AU{self.code:02d}"


# FACS (Ekman, Friesen & Hager, 2002) names of the AUs any supported benchmark uses.
_CATALOGUE: tuple[ActionUnit, ...] = (
    ActionUnit(1, "Inner Brow Raiser", "upper"),
    ActionUnit(2, "Outer Brow Raiser", "upper"),
    ActionUnit(4, "Brow Lowerer", "upper"),
    ActionUnit(5, "Upper Lid Raiser", "upper"),
    ActionUnit(6, "Cheek Raiser", "upper"),
    ActionUnit(7, "Lid Tightener", "upper"),
    ActionUnit(9, "Nose Wrinkler", "upper"),
    ActionUnit(10, "Upper Lip Raiser", "lower"),
    ActionUnit(12, "Lip Corner Puller", "lower"),
    ActionUnit(14, "Dimpler", "lower"),
    ActionUnit(15, "Lip Corner Depressor", "lower"),
    ActionUnit(17, "Chin Raiser", "lower"),
    ActionUnit(20, "Lip Stretcher", "lower"),
    ActionUnit(23, "Lip Tightener", "lower"),
    ActionUnit(24, "Lip Pressor", "lower"),
    ActionUnit(25, "Lips Part", "lower"),
    ActionUnit(26, "Jaw Drop", "lower"),
    ActionUnit(28, "Lip Suck", "lower"),
    ActionUnit(43, "Eyes Closed", "upper"),
    ActionUnit(45, "Blink", "upper"),
)

AUS: dict[int, ActionUnit] = {au.code: au for au in _CATALOGUE}

# AU sets of the benchmarks, in the order the ME-GraphAU family writes label columns.
BENCHMARK_AUS: dict[str, tuple[int, ...]] = {
    "bp4d": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),
    "bp4d_plus": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),
    "disfa": (1, 2, 4, 6, 9, 12, 25, 26),
    "gft": (1, 2, 4, 6, 10, 12, 14, 15, 23, 24),
    "affwild2": (1, 2, 4, 6, 7, 10, 12, 15, 23, 24, 25, 26),
    "synthau": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),
}

# Occurrence rates of the 12 BP4D AUs over the whole database, as tabulated in the
# AU literature (e.g. JAA-Net, ME-GraphAU supplementary). Used by SynthAU to draw
# labels with a realistic imbalance; training computes its own r_i from the split.
BP4D_RATES: dict[int, float] = {
    1: 0.21,
    2: 0.17,
    4: 0.20,
    6: 0.46,
    7: 0.55,
    10: 0.59,
    12: 0.56,
    14: 0.47,
    15: 0.17,
    17: 0.34,
    23: 0.17,
    24: 0.15,
}


def au_name(code: int) -> str:
    """FACS name of AU ``code``; raises InputError for an unknown code."""
    try:
        return AUS[int(code)].name
    except KeyError:
        known = ", ".join(str(c) for c in AUS)
        raise InputError(f"unknown AU code {code!r}; known codes: {known}") from None


def au_label(code: int) -> str:
    """OpenFace-style column label of an AU: ``au_label(1) == 'AU01'``."""
    return f"AU{int(code):02d}"


def benchmark_aus(name: str) -> tuple[int, ...]:
    """AU codes of a benchmark (case-insensitive, '-'/'+' tolerated: 'BP4D+' -> bp4d_plus)."""
    key = name.lower().replace("+", "_plus").replace("-", "").replace(" ", "")
    if key not in BENCHMARK_AUS:
        raise InputError(f"unknown benchmark {name!r}; expected one of {', '.join(BENCHMARK_AUS)}")
    return BENCHMARK_AUS[key]


def parse_au_code(text: str | int) -> int:
    """Parse 'AU12', 'au12', '12' or 12 into the integer code 12."""
    if isinstance(text, int):
        return text
    s = str(text).strip().upper()
    if s.startswith("AU"):
        s = s[2:]
    for suffix in ("_R", "_C", "_P"):
        if s.endswith(suffix):
            s = s[: -len(suffix)]
    if not s.isdigit():
        raise InputError(f"cannot read an AU code from {text!r}; expected e.g. 'AU12' or '12'")
    return int(s)

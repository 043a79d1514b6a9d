"""The built-in load profiles (DESIGN.md), as closed stages; ``--rate`` turns any of them open."""
from __future__ import annotations

from .errors import ConfigError
from .plan import Stage

_STRESS_STEP_USERS = 100
_STRESS_STEP_S = 120.0


def _steps(top: int) -> tuple[Stage, ...]:
    out: list[Stage] = []
    for level in range(_STRESS_STEP_USERS, top + 1, _STRESS_STEP_USERS):
        out += [Stage(0.0, float(level)), Stage(_STRESS_STEP_S, float(level))]
    return tuple(out)


PROFILES: dict[str, tuple[Stage, ...]] = {
    "smoke": (Stage(0, 5), Stage(60, 5)),
    "load": (Stage(60, 50), Stage(180, 100), Stage(300, 100), Stage(60, 0)),
    "peak": (Stage(120, 500), Stage(300, 500)),
    "stress": _steps(500),
    "spike": (Stage(0, 100), Stage(120, 100), Stage(0, 1000), Stage(120, 1000), Stage(0, 100), Stage(660, 100)),
    "soak": (Stage(0, 200), Stage(7200, 200)),
    "ramp": (Stage(900, 50),),
}
ALIASES = {"baseline": "load"}


def profile_stages(name: str, until_break: int | None = None) -> tuple[Stage, ...]:
    """The stages of a built-in profile. ``until_break`` (stress only) steps on up to that many users."""
    key = ALIASES.get(name, name)
    if key not in PROFILES:
        known = ", ".join(sorted([*PROFILES, *ALIASES]))
        raise ConfigError(f"unknown profile {name!r}", f"choose one of: {known}")
    if until_break is not None:
        if key != "stress":
            raise ConfigError("--until-break works with --profile stress only", "add --profile stress")
        return _steps(until_break)
    return PROFILES[key]

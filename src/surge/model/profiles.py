"""The built-in load profiles (DESIGN.md), as closed stages; ``--rate`` turns any of them open."""
from __future__ import annotations

from .errors import ConfigError
from .plan import Stage

STRESS_STEP_USERS = 100
STRESS_STEP_S = 120.0
STRESS_TOP = 500


def _steps(top: int, step_users: int = STRESS_STEP_USERS, step_s: float = STRESS_STEP_S) -> tuple[Stage, ...]:
    """+``step_users`` at once, held ``step_s``, up to ``top``: a jump and a hold per step."""
    out: list[Stage] = []
    for level in range(step_users, top + 1, step_users):
        out += [Stage(0.0, float(level)), Stage(step_s, float(level))]
    return tuple(out)


PROFILES: dict[str, tuple[Stage, ...]] = {
    "smoke": (Stage(0, 5), Stage(60, 5)),
    "load": (Stage(60, 50), Stage(180, 100), Stage(300, 100), Stage(60, 0)),
    "peak": (Stage(120, 500), Stage(300, 500)),
    "stress": _steps(STRESS_TOP),
    "spike": (Stage(0, 100), Stage(120, 100), Stage(0, 1000), Stage(120, 1000), Stage(0, 100), Stage(660, 100)),
    "soak": (Stage(0, 200), Stage(7200, 200)),
    "ramp": (Stage(900, 50),),
}
ALIASES = {"baseline": "load"}


def profile_stages(name: str, until_break: int | None = None, *, step_users: int | None = None,
                   step_s: float | None = None) -> tuple[Stage, ...]:
    """The stages of a built-in profile. Stress only: ``until_break`` steps on up to that many
    users; ``step_users`` and ``step_s`` set the step (default +100 users every 2 min)."""
    key = ALIASES.get(name, name)
    if key not in PROFILES:
        known = ", ".join(sorted([*PROFILES, *ALIASES]))
        raise ConfigError(f"unknown profile {name!r}", f"choose one of: {known}")
    if until_break is None and step_users is None and step_s is None:
        return PROFILES[key]
    if key != "stress":
        flag = "--until-break" if until_break is not None else "--step-users/--step-duration"
        raise ConfigError(f"{flag} works with --profile stress only", "add --profile stress")
    top = STRESS_TOP if until_break is None else until_break
    step = STRESS_STEP_USERS if step_users is None else step_users
    if step > top:
        raise ConfigError(f"a stress step of {step} users is more than the top of {top} users",
                          "raise the top (--until-break MAX) or lower --step-users")
    return _steps(top, step, STRESS_STEP_S if step_s is None else step_s)

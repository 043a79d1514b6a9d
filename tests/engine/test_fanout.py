"""The fan-out: what the terminal view relies on when another output fails at the end."""
from __future__ import annotations

from surge.engine.fanout import Fanout
from surge.model.events import Notice


class Records:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def handle(self, event) -> None:
        self.calls.append(("handle", event))

    def finish(self, result) -> None:
        self.calls.append(("finish", result))


class FailsAtTheEnd:
    def handle(self, event) -> None:
        pass

    def finish(self, result) -> None:
        raise OSError(28, "No space left on device")


def test_an_output_that_raises_in_finish_does_not_keep_the_next_from_finishing():
    console = Records()
    fanout = Fanout([FailsAtTheEnd(), console])
    fanout.finish("result")
    (notice_call, notice), (finish_call, result) = console.calls
    assert notice_call == "handle" and isinstance(notice, Notice) and notice.level == "error"
    assert "FailsAtTheEnd raised in finish() (OSError: [Errno 28] No space left on device)" in notice.message
    assert (finish_call, result) == ("finish", "result")  # told why first, then finished
    assert fanout.warnings == [notice.message]


class Annotates(Records):
    def __init__(self, sections=None, fails: bool = False) -> None:
        super().__init__()
        self.sections, self.fails = sections or {}, fails

    def annotate(self, summary):
        if self.fails:
            raise ZeroDivisionError("division by zero")
        return self.sections


def test_annotators_add_their_sections_and_one_that_raises_only_loses_its_own():
    good = Annotates({"findings": ("a",)})
    fanout = Fanout([Annotates(fails=True), good, Records()])
    assert fanout.annotate("summary") == {"findings": ("a",)}
    assert len(fanout.warnings) == 1 and "raised in annotate() (ZeroDivisionError" in fanout.warnings[0]
    fanout.finish("result")
    assert good.calls[-1] == ("finish", "result")  # the others go on

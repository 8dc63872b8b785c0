import io
import re

from rtgs2.utils.progress import ProgressReport


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    with ProgressReport("fit", 10, start=2, fields="loss {loss:.2f}", stream=out, interval_s=0.0) as p:
        p.update(4, loss=0.5)
        p.advance(1, loss=0.25)
    lines = out.getvalue().splitlines()
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d fit 2/10 \(20%\)", lines[0])
    assert "fit 4/10 (40%)  loss 0.50" in lines[1] and "ETA" in lines[1]
    assert "fit 5/10" in lines[2] and "loss 0.25" in lines[2]
    assert lines[-1].endswith("done")


def test_plain_lines_are_spaced_by_interval():
    out = io.StringIO()
    with ProgressReport("x", 1000, stream=out, interval_s=3600) as p:
        for i in range(1000):
            p.update(i + 1)
    assert len(out.getvalue().splitlines()) == 2  # the first line and the closing one


def test_disabled_writes_nothing():
    out = io.StringIO()
    with ProgressReport("x", 3, stream=out, enabled=False, interval_s=0) as p:
        p.update(3)
    assert out.getvalue() == ""

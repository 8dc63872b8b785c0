"""A SynthRooms build is a function of its seed: two builds in two fresh processes give the
same bytes in every data file (the ``DONE`` markers hold timings and are left out)."""

import subprocess
import sys

BUILD = "from rtgs2.synth.build import build_synthrooms; import sys; build_synthrooms(sys.argv[1], 'mini', progress=False, num_scenes=2)"


def test_two_builds_in_two_processes_are_byte_identical(tmp_path):
    roots = [tmp_path / "a", tmp_path / "b"]
    procs = [subprocess.Popen([sys.executable, "-c", BUILD, str(r)]) for r in roots]  # concurrent, as a user might
    assert [p.wait() for p in procs] == [0, 0]
    files = [sorted(p.relative_to(r) for p in r.rglob("*") if p.is_file() and p.name != "DONE") for r in roots]
    assert files[0] == files[1] and len(files[0]) > 20
    assert any(f.name == "point_cloud.ply" for f in files[0])
    differ = [str(f) for f in files[0] if (roots[0] / f).read_bytes() != (roots[1] / f).read_bytes()]
    assert differ == []

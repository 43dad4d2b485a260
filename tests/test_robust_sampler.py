"""`sample-poses` never replaces or mixes an output of other settings: a one-file output with another seed is
refused (`--restart` replaces it), a folder of other settings or of foreign files is refused."""

from click.testing import CliRunner

from cli import main
from handmodel.poses_io import load_poses

SMALL = ["--num", 2, "--batch-size", 2, "--copies", 1, "--iters", 2, "--no-report"]


def _sample(out, *extra):
    return CliRunner().invoke(main, ["sample-poses", "--out", str(out), *map(str, SMALL), *map(str, extra)])


def _error(r, code=1):
    assert r.exit_code == code, r.output
    lines = [x for x in r.output.splitlines() if x.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    return lines[0]


def test_a_single_file_of_another_seed_is_refused_and_replaced_only_with_restart(tmp_path):
    out = tmp_path / "poses.npz"
    assert _sample(out, "--seed", 0).exit_code == 0
    before = out.read_bytes()
    line = _error(_sample(out, "--seed", 1))
    assert f"{out}: made by another sample-poses run (seed was 0, now 1)" in line and "--restart" in line
    assert out.read_bytes() == before
    r = _sample(out, "--seed", 1, "--restart")
    assert r.exit_code == 0, r.output
    assert load_poses(out).meta["seed"] == 1


def test_a_folder_of_other_settings_or_foreign_files_is_refused(tmp_path):
    folder = tmp_path / "chunks"
    assert _sample(folder, "--seed", 0, "--shard", "0/2").exit_code == 0
    line = _error(_sample(folder, "--seed", 3, "--shard", "1/2"))
    assert f"{folder} belongs to another sample-poses run" in line and "(seed was 0, now 3)" in line
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    line = _error(_sample(foreign))
    assert "holds files that no sample-poses wrote (notes.txt); choose an empty folder" in line

"""`interhand prepare` is fingerprinted by the release files it reads: a changed release is refused, not mixed."""

import json

from click.testing import CliRunner

from cli import main
from handmodel.interhand_release import annotation_path


def _prepare(root, out, *extra):
    return CliRunner().invoke(main, ["interhand", "prepare", "--data_path", str(root), "--save_path", str(out),
                                     *map(str, extra)])  # fmt: skip


def test_prepare_refuses_a_folder_made_from_other_release_annotations(tmp_path, mini_annotations):
    root, _ = mini_annotations
    out = tmp_path / "ds"
    r = _prepare(root, out, "--num", 2)
    assert r.exit_code == 0, r.output
    assert _prepare(root, out, "--num", 2).exit_code == 0  # the same release resumes
    path = annotation_path(root, "train", "MANO_NeuralAnnot")
    mano = json.loads(path.read_text())
    capture = next(iter(mano))
    frame = next(f for f, e in mano[capture].items() if e.get("right"))
    mano[capture][frame]["right"]["pose"][5] += 0.1
    path.write_text(json.dumps(mano))
    r = _prepare(root, out, "--num", 2)
    assert r.exit_code == 1, r.output
    line = [x for x in r.output.splitlines() if x.startswith("Error:")][0]
    assert f"{out} belongs to another prepare run (release.MANO_NeuralAnnot was" in line
    assert "the release or the settings changed; prepare into a new --out" in line

"""`train`, `eval` and `demo` from the command line on rendered samples, and their errors on bad input."""

import json

import cv2
import numpy as np
import pytest
import train_fixtures
from click.testing import CliRunner

from cli import main
from handmodel import load_hand_models
from handmodel.dataset_io import read_annotation
from handmodel.joints import HANDS
from handmodel.skinning import mano_forward
from training.demo import draw_meshes


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def run_dir(rendered_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    r = _invoke("train", "--config", train_fixtures.TINY_CONFIG, "--data", f"renderih={rendered_dataset}",
                "--max-steps", 2, "--out", out, "--device", "cpu")  # fmt: skip
    assert r.exit_code == 0, r.output
    return out


def test_train_writes_config_checkpoint_and_logs(run_dir):
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    assert any((run_dir / "logs").iterdir())
    cfg = (run_dir / "config.yaml").read_text()
    assert "renderih" in cfg and "backbone: resnet18" in cfg and "max_steps: 2" in cfg


def test_a_dataset_made_under_another_machines_blas_and_torch_kernels_trains_and_evaluates_here(
    rendered_dataset, run_dir, tmp_path
):
    """The fixture's poses and renders were made under train_fixtures.OTHER_MACHINE with a cache of their own: the
    hand model they record is the one active here, so `train` (run_dir) and `eval` take them."""
    meta = json.loads((rendered_dataset / "meta.json").read_text())
    assert meta["hand_model"] == load_hand_models(quiet=True).identity
    r = _invoke("eval", "--checkpoint", run_dir, "--data", rendered_dataset, "--json", tmp_path / "m.json")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "m.json").read_text())["samples"] == 4


def test_eval_prints_the_intaghand_block_and_writes_json(run_dir, rendered_dataset, tmp_path):
    r = _invoke("eval", "--checkpoint", run_dir, "--data", rendered_dataset, "--json", tmp_path / "m.json")
    assert r.exit_code == 0, r.output
    assert "joint mean error:" in r.output and "vert mean error:" in r.output and "MRRPE" in r.output
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["samples"] == 4 and set(m["joint"]) == {"left", "right", "all"}
    assert f"all: {m['joint']['all']:.2f} mm" in r.output


def test_demo_writes_one_overlay_per_image(run_dir, rendered_dataset, tmp_path):
    r = _invoke("demo", "--checkpoint", run_dir, "--img_path", rendered_dataset / "images", "--save_path", tmp_path)
    assert r.exit_code == 0, r.output
    for src in sorted((rendered_dataset / "images").glob("*.jpg")):
        out = cv2.imread(str(tmp_path / f"{src.stem}_overlay.jpg"))
        assert out.shape == cv2.imread(str(src)).shape


def test_demo_on_a_video_writes_an_overlay_video_with_every_frame(run_dir, rendered_dataset, tmp_path):
    video = tmp_path / "clip.mp4"
    frames = [cv2.imread(str(p)) for p in sorted((rendered_dataset / "images").glob("*.jpg"))]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, frames[0].shape[1::-1])
    for f in frames:
        writer.write(f)
    writer.release()
    r = _invoke("demo", "--checkpoint", run_dir, "--video", video, "--save_path", tmp_path / "out")
    assert r.exit_code == 0, r.output
    cap = cv2.VideoCapture(str(tmp_path / "out" / "clip_overlay.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames)
    cap.release()


def test_overlay_covers_the_hands_where_the_mask_says_they_are(drawn_dataset):
    """Drawing the ground-truth meshes with the demo's painter reproduces the stored hand mask."""
    models = load_hand_models(quiet=True)
    image = cv2.imread(str(drawn_dataset / "images" / "00000001.jpg"))
    mask = cv2.imread(str(drawn_dataset / "masks" / "00000001.png"), cv2.IMREAD_UNCHANGED) > 0
    ann = read_annotation(drawn_dataset, "00000001")
    meshes = {}
    for hand in HANDS:
        a = ann[hand]
        v, _ = mano_forward(models[hand], a["pose"][None], a["shape"][None], a["trans"][None])
        p = v[0] @ ann["camera"]["K"].T
        meshes[hand] = {"verts2d": p[:, :2] / p[:, 2:], "depth": v[0, :, 2], "verts3d": v[0]}
    overlay = draw_meshes(image, meshes, {h: models[h].faces for h in HANDS})
    changed = np.abs(overlay.astype(int) - image.astype(int)).sum(-1) > 0
    iou = (changed & mask).sum() / (changed | mask).sum()
    assert iou > 0.85


def test_bad_inputs_exit_1_with_a_message_naming_the_file(drawn_dataset, tmp_path):
    junk = tmp_path / "model.pt"
    junk.write_bytes(b"nope")
    r = CliRunner().invoke(main, ["eval", "--checkpoint", str(junk), "--data", str(drawn_dataset)])
    assert r.exit_code == 1 and "model.pt: not a torch checkpoint" in r.output
    not_data = tmp_path / "empty"
    not_data.mkdir()
    r = CliRunner().invoke(main, ["train", "--data", f"x={not_data}", "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and "meta.json: missing" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["train", "--data", f"x={drawn_dataset}", "--preset", "real"])
    assert r.exit_code == 1 and "no --data interhand" in r.output

"""The network, its checkpoints, the local backbone weights, and the config."""

import pytest
import torch
import torchvision
from train_fixtures import tiny_config

from handmodel.errors import InputError
from handmodel.joints import HANDS
from training.checkpoint import load_model, read_checkpoint, save_checkpoint
from training.config import PRESETS, build_config, resolve_config
from training.model import TwoHandNet, build_backbone


@pytest.fixture(scope="module")
def cfg():
    return tiny_config({})


def test_forward_gives_both_meshes_joints_and_quarter_size_maps(graphs, cfg):
    net = TwoHandNet(graphs, cfg["model"]).eval()
    out = net(torch.randn(2, 3, 64, 64))
    for hand in HANDS:
        assert out[hand]["verts"].shape == (2, 778, 3) and out[hand]["joints"].shape == (2, 21, 3)
        assert out[hand]["coarse"].shape == (2, 252, 3) and out[hand]["coarse2d"].shape == (2, 252, 2)
        assert out[hand]["verts2d"].shape == (2, 778, 2) and (out[hand]["cam"][:, 0] > 0).all()
        # Joints come from the mesh through the fixed regressor.
        reg = torch.as_tensor(graphs[hand].regressor21, dtype=torch.float32)
        assert torch.allclose(out[hand]["joints"], reg @ out[hand]["verts"], atol=1e-5)
    assert out["heatmaps"].shape == (2, 42, 16, 16) and out["mask"].shape == (2, 2, 16, 16)
    assert out["dense"].shape == (2, 6, 16, 16)


def test_checkpoint_round_trips_weights_and_optimizer_state(models, graphs, cfg, tmp_path):
    torch.manual_seed(0)
    net = TwoHandNet(graphs, cfg["model"])
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.randn(2, 3, 64, 64)
    net(x)["right"]["verts"].sum().backward()
    opt.step()
    path = tmp_path / "ck.pt"
    save_checkpoint(path, net, cfg, models.info, optimizer=opt.state_dict(), epoch=3, step=7)
    loaded, ckpt = load_model(path, models, graphs)
    net.eval()
    with torch.no_grad():
        a, b = net(x), loaded(x)
    assert torch.equal(a["left"]["verts"], b["left"]["verts"]) and torch.equal(a["mask"], b["mask"])
    assert ckpt["epoch"] == 3 and ckpt["step"] == 7 and ckpt["config"] == cfg
    opt2 = torch.optim.AdamW(loaded.parameters(), lr=1e-3)
    opt2.load_state_dict(ckpt["optimizer"])
    first = next(iter(opt2.state.values()))
    assert torch.equal(first["exp_avg"], next(iter(opt.state.values()))["exp_avg"])


def test_checkpoints_of_another_model_or_hand_model_are_refused(models, graphs, cfg, tmp_path):
    net = TwoHandNet(graphs, cfg["model"])
    other = tmp_path / "other_hand.pt"
    save_checkpoint(other, net, cfg, {"model": "mano", "hash": "feedbeef"})
    with pytest.raises(InputError, match=r"other_hand\.pt: trained with hand model 'mano'"):
        load_model(other, models, graphs)
    foreign = tmp_path / "resnet.pt"
    torch.save({"state_dict": torchvision.models.resnet18().state_dict()}, foreign)
    with pytest.raises(InputError, match=r"resnet\.pt: a checkpoint of another model"):
        read_checkpoint(foreign)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"junk\.pt: not a torch checkpoint"):
        read_checkpoint(junk)
    with pytest.raises(InputError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")


def test_intaghand_at_resnet50_has_within_3_percent_of_its_36_79_m_trainable_weights(graphs):
    cfg = resolve_config({"model": {"backbone_weights": None}})
    assert cfg["model"]["arch"] == "intaghand" and cfg["model"]["backbone"] == "resnet50"
    net = TwoHandNet(graphs, cfg["model"])
    n = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert abs(n / 36.79e6 - 1) < 0.03, n
    # The fixed 252 -> 778 upsampling is not trained.
    assert not any(p.shape == (778, 252) for p in net.parameters())


def test_imagenet_weights_come_from_torchvision_and_a_clear_error_offline(monkeypatch, tmp_path):
    generated = torchvision.models.resnet18().state_dict()  # stands in for the ImageNet file: nothing downloads
    calls = []

    def cached(self, progress=True, check_hash=False):
        calls.append(self.url)
        return generated

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", cached)
    net = build_backbone("resnet18", "imagenet")
    assert calls == [torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url]
    assert torch.equal(net.conv1.weight, generated["conv1.weight"])
    assert torch.equal(net.layer4[1].bn2.running_var, generated["layer4.1.bn2.running_var"])

    def offline(self, progress=True, check_hash=False):
        import urllib.error

        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(InputError) as err:
        build_backbone("resnet50", "imagenet")
    msg = str(err.value)
    assert msg.startswith("--backbone-weights imagenet: cannot fetch https://") and "\n" not in msg
    assert str(tmp_path / "hub" / "checkpoints") in msg and "name resolution" in msg
    assert resolve_config({"model": {"backbone_weights": "none"}})["model"]["backbone_weights"] is None
    assert resolve_config({})["model"]["backbone_weights"] == "imagenet"


def test_backbone_weights_load_only_from_the_named_local_file(tmp_path):
    ref = torchvision.models.resnet18()
    path = tmp_path / "resnet18_imagenet.pth"
    torch.save(ref.state_dict(), path)
    net = build_backbone("resnet18", str(path))
    assert torch.equal(net.conv1.weight, ref.conv1.weight) and torch.equal(
        net.layer4[1].bn2.bias, ref.layer4[1].bn2.bias
    )
    with pytest.raises(InputError, match=r"resnet18_imagenet\.pth: not resnet50 ImageNet weights"):
        build_backbone("resnet50", str(path))
    with pytest.raises(InputError, match="not found"):
        build_backbone("resnet18", str(tmp_path / "nope.pth"))


def test_config_presets_mixes_and_mistakes(tmp_path):
    cfg = build_config(data=["renderih=a", "interhand=b"], preset="pretrain-finetune", overrides={"train.epochs": 8})
    assert [s["mix"] for s in cfg["stages"]] == [s["mix"] for s in PRESETS["pretrain-finetune"]]
    assert [s["epochs"] for s in cfg["stages"]] == [6, 2] and cfg["stages"][1]["lr_scale"] == 0.1
    cfg = build_config(data=["renderih=a", "interhand=b"], mix="renderih:0.3,interhand:0.7")
    assert cfg["stages"] == [{"mix": {"renderih": 0.3, "interhand": 0.7}, "epochs": 200, "lr_scale": 1.0}]
    with pytest.raises(InputError, match="no --data interhand"):
        build_config(data=["renderih=a"], preset="real+synthetic")
    with pytest.raises(InputError, match="unknown key 'lr_rate'"):
        resolve_config({"train": {"lr_rate": 1}})
    bad = tmp_path / "c.yaml"
    bad.write_text("model: [1, 2")
    with pytest.raises(InputError, match=r"c\.yaml:1:13: not valid YAML"):
        build_config(str(bad))


def test_every_stage_of_a_schedule_gets_at_least_one_epoch():
    data = ["renderih=a", "interhand=b"]
    cfg = build_config(data=data, preset="pretrain-finetune", overrides={"train.epochs": 2})
    assert [s["epochs"] for s in cfg["stages"]] == [1, 1] and cfg["train"]["epochs"] == 2
    with pytest.raises(InputError, match="stage 1 of 2 gets 0 epochs"):
        build_config(data=data, preset="pretrain-finetune", overrides={"train.epochs": 1})
    with pytest.raises(InputError, match="stage 1 of 1 gets 0 epochs"):
        resolve_config({"data": {"renderih": "a"}, "stages": [{"mix": {"renderih": 1.0}, "epochs": 0}]})

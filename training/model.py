"""The IntagHand-style two-hand network: ResNet encoder, auxiliary heads, and a coarse-to-fine GCN decoder.

Decoder per hand: initial node features (global feature + 3D positional code) on the 63-node graph, then three
levels (63 -> 126 -> 252 nodes) of residual Chebyshev blocks (K=2), PIFA (attention from nodes to a grid of image
tokens) and CHA (cross-hand attention), each level predicting coarse 3D positions; the fixed 252 -> 778
upsampling gives the mesh and the regressor the 21 joints. A weak-perspective camera per hand (scale s, shift t)
places the hand in the image: v2d / input_size = s * xy + t / 2 + 0.5 (IntagHand's `s*256*xy + t*128 + 128`).
"""

from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from handmodel.errors import InputError
from handmodel.joints import HANDS

ARCH = "intaghand-gcn"
ARCH_VERSION = 1
FEATURE_CHANNELS = {"resnet18": (64, 128, 256, 512), "resnet34": (64, 128, 256, 512),
                    "resnet50": (256, 512, 1024, 2048)}  # fmt: skip
CAMERA_SCALE = 2.5  # initial s: a 0.2 m normalised hand spans half the image
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_backbone(name: str, weights_file: str | None = None) -> nn.Module:
    """A torchvision ResNet without its classifier; ImageNet weights only from a local file, never downloaded."""
    net = getattr(torchvision.models, name)(weights=None)
    if weights_file:
        path = Path(weights_file)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise InputError(f"{path}: backbone weights file not found") from None
        except Exception as e:  # torch raises several types for non-checkpoint files
            raise InputError(f"{path}: not a torch state_dict ({type(e).__name__})") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        own = {k: v for k, v in net.state_dict().items() if not k.startswith("fc.")}
        wrong = [k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape)]
        extra = [k for k in state if k not in own]
        if wrong or extra:
            raise InputError(
                f"{path}: not {name} ImageNet weights ({len(wrong)} missing or misshapen, {len(extra)} unexpected "
                f"keys, e.g. {(wrong or extra)[0]!r})"
            )
        net.load_state_dict(state, strict=False)
    net.fc = nn.Identity()
    return net


class Encoder(nn.Module):
    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.stem = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu, backbone.maxpool)
        self.layers = nn.ModuleList([backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4])

    def forward(self, x):
        """Image (B,3,S,S) -> [layer1 (S/4), layer2 (S/8), layer3 (S/16), layer4 (S/32)]."""
        feats = []
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class AuxiliaryHeads(nn.Module):
    """Top-down decoder over the encoder features to S/4: 42 heatmaps, 2 mask logits, 2x3 dense channels."""

    def __init__(self, channels, dim: int):
        super().__init__()
        self.lateral = nn.ModuleList([nn.Conv2d(c, dim, 1) for c in channels])
        self.smooth = nn.ModuleList([nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1), nn.BatchNorm2d(dim), nn.ReLU())
                                     for _ in channels[:-1]])  # fmt: skip
        self.heatmap = nn.Conv2d(dim, 42, 1)
        self.mask = nn.Conv2d(dim, 2, 1)
        self.dense = nn.Conv2d(dim, 6, 1)

    def forward(self, feats):
        x = self.lateral[-1](feats[-1])
        for i in range(len(feats) - 2, -1, -1):
            x = F.interpolate(x, size=feats[i].shape[-2:], mode="bilinear", align_corners=False)
            x = self.smooth[i](x + self.lateral[i](feats[i]))
        return self.heatmap(x), self.mask(x), torch.sigmoid(self.dense(x))


class ChebConv(nn.Module):
    """Chebyshev graph convolution, K=2: y = x W0 + (L~ x) W1 with L~ = -D^-1/2 A D^-1/2 (lambda_max ~ 2)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.w0 = nn.Linear(dim_in, dim_out)
        self.w1 = nn.Linear(dim_in, dim_out, bias=False)

    def forward(self, x, lap):
        return self.w0(x) + self.w1(torch.matmul(lap, x))


class ChebBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.LayerNorm(dim), ChebConv(dim, dim)
        self.norm2, self.conv2 = nn.LayerNorm(dim), ChebConv(dim, dim)

    def forward(self, x, lap):
        y = self.conv1(F.gelu(self.norm1(x)), lap)
        return x + self.conv2(F.gelu(self.norm2(y)), lap)


class Attention(nn.Module):
    """Pre-norm residual multi-head attention from one node set to keys (image tokens or the other hand)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm_q, self.norm_k = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x, keys):
        k = self.norm_k(keys)
        return x + self.attn(self.norm_q(x), k, k, need_weights=False)[0]


def scaled_laplacian(adj: torch.Tensor) -> torch.Tensor:
    deg = adj.sum(1).clamp(min=1.0)
    d = deg.rsqrt()
    return -(d[:, None] * adj * d[None, :])


class HandDecoder(nn.Module):
    """One hand's coarse-to-fine GCN with PIFA; cross-hand attention is applied by the caller between levels."""

    def __init__(self, graph, global_dim: int, dims, blocks: int, heads: int):
        super().__init__()
        for lvl in range(3):
            self.register_buffer(
                f"lap{lvl}", scaled_laplacian(torch.as_tensor(graph.adjacency[lvl], dtype=torch.float32))
            )
        for lvl in range(2):
            # For each finer node, the coarse node that stands for it (unpooling copies features down).
            parent = torch.empty(2 * len(graph.children[lvl]), dtype=torch.long)
            kids = torch.as_tensor(graph.children[lvl], dtype=torch.long)
            parent[kids.reshape(-1)] = torch.arange(len(kids)).repeat_interleave(2)
            self.register_buffer(f"parent{lvl}", parent)
        self.register_buffer("positional", torch.as_tensor(graph.positional, dtype=torch.float32))
        # Each level predicts an offset from the template's node positions (normalised units).
        template = torch.as_tensor(graph.template, dtype=torch.float32)
        for lvl in range(3):
            pool = torch.as_tensor(graph.pooling[lvl], dtype=torch.float32)
            self.register_buffer(f"template{lvl}", pool @ template)
        self.register_buffer("upsample", torch.as_tensor(graph.upsample, dtype=torch.float32))
        self.register_buffer("regressor", torch.as_tensor(graph.regressor21, dtype=torch.float32))
        self.embed = nn.Linear(global_dim + 3, dims[0])
        self.blocks = nn.ModuleList([nn.ModuleList([ChebBlock(d) for _ in range(blocks)]) for d in dims])
        self.pifa = nn.ModuleList([Attention(d, heads) for d in dims])
        self.coords = nn.ModuleList([nn.Linear(d, 3) for d in dims])
        for layer in self.coords:
            nn.init.normal_(layer.weight, std=1e-3)
            nn.init.zeros_(layer.bias)
        self.lift = nn.ModuleList([nn.Linear(dims[i], dims[i + 1]) for i in range(2)])

    def initial(self, global_feat):
        """Global feature (B, global_dim) -> node features (B, 63, dims[0])."""
        pos = self.positional.to(global_feat.dtype).expand(global_feat.shape[0], -1, -1)
        g = global_feat[:, None].expand(-1, pos.shape[1], -1)
        return self.embed(torch.cat([g, pos], dim=-1))

    def level(self, lvl: int, x, tokens):
        lap = getattr(self, f"lap{lvl}").to(x.dtype)
        for block in self.blocks[lvl]:
            x = block(x, lap)
        return self.pifa[lvl](x, tokens)

    def predict(self, lvl: int, x):
        """Node features (B, n_l, d) -> node positions (B, n_l, 3), normalised units, float32."""
        return self.coords[lvl](x).float() + getattr(self, f"template{lvl}")

    def unpool(self, lvl: int, x):
        return self.lift[lvl](x[:, getattr(self, f"parent{lvl}")])


class TwoHandNet(nn.Module):
    """RGB image (B,3,S,S) -> both hands' meshes, joints and cameras, plus auxiliary maps."""

    def __init__(self, graphs: dict, cfg: dict):
        super().__init__()
        m = cfg
        self.cfg = dict(cfg)
        chans = FEATURE_CHANNELS[m["backbone"]]
        self.encoder = Encoder(build_backbone(m["backbone"], m.get("backbone_weights")))
        dims = list(m["gcn_dims"])
        self.aux = AuxiliaryHeads(chans, max(32, dims[-1]))
        self.tokens = m["tokens"]
        self.token_proj = nn.ModuleList([nn.Linear(chans[3 - lvl], dims[lvl]) for lvl in range(3)])
        self.token_pos = nn.Parameter(torch.zeros(3, self.tokens**2, max(dims)))
        self.global_fc = nn.ModuleDict({h: nn.Linear(chans[3], m["global_dim"]) for h in HANDS})
        self.camera = nn.ModuleDict({h: nn.Linear(chans[3], 3) for h in HANDS})
        self.decoders = nn.ModuleDict({h: HandDecoder(graphs[h], m["global_dim"], dims, m["blocks_per_level"],
                                                      m["heads"]) for h in HANDS})  # fmt: skip
        self.cha = nn.ModuleList([nn.ModuleDict({h: Attention(d, m["heads"]) for h in HANDS}) for d in dims])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        for h in HANDS:
            nn.init.zeros_(self.camera[h].weight)
            nn.init.zeros_(self.camera[h].bias)

    def image_tokens(self, feats, lvl: int):
        """Level 0 attends to layer4, level 1 to layer3, level 2 to layer2, each pooled to tokens x tokens."""
        f = F.adaptive_avg_pool2d(feats[3 - lvl], self.tokens).flatten(2).transpose(1, 2)
        t = self.token_proj[lvl](f)
        return t + self.token_pos[lvl, :, : t.shape[-1]].to(t.dtype)

    def normalise(self, image):
        """uint8 RGB (B,3,S,S) 0..255, or float 0..1 -> ImageNet-normalised float on the image's device."""
        x = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
        return (x - self.mean) / self.std

    def forward(self, image):
        """image: uint8 RGB (B,3,S,S) (or float in 0..1), as the data loader gives it."""
        feats = self.encoder(self.normalise(image))
        heatmaps, mask, dense = self.aux(feats)
        pooled = feats[3].mean((2, 3))
        x = {h: self.decoders[h].initial(self.global_fc[h](pooled)) for h in HANDS}
        coarse = {h: [] for h in HANDS}
        for lvl in range(3):
            tokens = self.image_tokens(feats, lvl)
            x = {h: self.decoders[h].level(lvl, x[h], tokens) for h in HANDS}
            x = {
                "right": self.cha[lvl]["right"](x["right"], x["left"]),
                "left": self.cha[lvl]["left"](x["left"], x["right"]),
            }
            for h in HANDS:
                coarse[h].append(self.decoders[h].predict(lvl, x[h]))
            if lvl < 2:
                x = {h: self.decoders[h].unpool(lvl, x[h]) for h in HANDS}
        out = {"heatmaps": heatmaps, "mask": mask, "dense": dense}
        with torch.autocast(image.device.type, enabled=False):  # the mesh and camera in float32 under AMP
            for h in HANDS:
                out[h] = self._hand_output(h, coarse[h], pooled.float())
        return out

    def _hand_output(self, h: str, coarse: list, pooled):
        dec = self.decoders[h]
        verts = torch.matmul(dec.upsample, coarse[-1])
        joints = torch.matmul(dec.regressor, verts)
        raw = self.camera[h](pooled)
        # Linear in the scale (as IntagHand): an exp/softplus scale can collapse to ~0 early in training, where
        # its gradient vanishes and it stays.
        cam = torch.cat([CAMERA_SCALE * (1.0 + raw[:, :1]), raw[:, 1:]], dim=1)
        return {
            "verts": verts,
            "joints": joints,
            "coarse": coarse,
            "cam": cam,
            "verts2d": project_weak(verts, cam),
            "coarse2d": [project_weak(c, cam) for c in coarse],
        }


def project_weak(points, cam):
    """Normalised 3D points (B,N,3), camera (B,3) = (s, tx, ty) -> image coordinates / input size (B,N,2)."""
    return cam[:, None, :1] * points[..., :2] + cam[:, None, 1:] / 2 + 0.5

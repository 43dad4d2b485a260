"""The IntagHand two-hand network: ResNet encoder, heatmap and dense decoders, and a coarse-to-fine GCN decoder.

- Encoder: a torchvision ResNet (layer1..4 at S/4, S/8, S/16, S/32).
- Two image decoders from layer4 up to S/4 with skips from the encoder: one for the 42 joint heatmaps, one for
  the 2 hand masks and the 2x3-channel dense maps.
- Image features for the GCN at S/32, S/16 and S/8: the two decoders' feature maps there, fused with layer3 (at
  S/16) and layer2 (at S/8).
- Per hand a GCN over 63 -> 126 -> 252 nodes: initial node features from the global feature (2048 -> 509) and a
  3D positional code; per level residual Chebyshev blocks (K=2), PIFA (a patch-conv token grid, a self-attention
  and feed-forward block over the tokens, then self-attention over [nodes; tokens]) and CHA (self-attention within
  each hand, cross-attention with weights shared by both hands, a feed-forward block), with learned positional
  embeddings per level; the fixed 252 -> 778 upsampling gives the mesh and the regressor the 21 joints.
- Camera: one head, shared by both hands, reads each hand's 252-node features and gives a weak-perspective
  camera (s, tx, ty) with pixels_to_ndc(v2d) = s * xy + t (IntagHand's `s*256*xy + t*128 + 128`, in [-1, 1]
  units; training/targets.py).
The right hand is predicted relative to the left hand's joint 9 (the targets' `root_rel`), so the two hands'
relative position is learnt.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from handmodel.errors import InputError
from handmodel.joints import HANDS
from training.config import ARCHS

ARCH = "intaghand-gcn"
ARCH_VERSION = 2
FEATURE_CHANNELS = {"resnet18": (64, 128, 256, 512), "resnet34": (64, 128, 256, 512),
                    "resnet50": (256, 512, 1024, 2048)}  # fmt: skip
CAMERA_SCALE = 5.0  # initial s: a 0.2 m normalised hand spans half the image
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_WEIGHTS = {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights", "resnet50": "ResNet50_Weights"}


def imagenet_state_dict(name: str) -> dict:
    """torchvision's own ImageNet weights of `name`, fetched once into torchvision's cache (torch.hub's folder)."""
    weights = getattr(torchvision.models, IMAGENET_WEIGHTS[name]).IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=False)
    except (OSError, RuntimeError) as e:  # URLError is an OSError; a cut download is a RuntimeError
        cache = Path(torch.hub.get_dir()) / "checkpoints"
        reason = str(getattr(e, "reason", e)).splitlines()[0]
        raise InputError(
            f"--backbone-weights imagenet: cannot fetch {weights.url} into {cache} ({reason}); copy the file "
            f"there from a connected machine, or pass a local state_dict file"
        ) from None


def build_backbone(name: str, weights: str | None = None) -> nn.Module:
    """A torchvision ResNet without its classifier. weights: None (random), "imagenet" (torchvision's ImageNet
    weights, from its cache or fetched into it), or a local state_dict file."""
    net = getattr(torchvision.models, name)(weights=None)
    if weights == "imagenet":
        state, path = imagenet_state_dict(name), f"torchvision's {name} ImageNet weights"
    elif weights:
        path = Path(weights)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise InputError(f"{path}: backbone weights file not found") from None
        except Exception as e:  # torch raises several types for non-checkpoint files
            raise InputError(f"{path}: not a torch state_dict ({type(e).__name__})") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else state
    if weights:
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


def scaled_laplacian(adj: torch.Tensor) -> torch.Tensor:
    deg = adj.sum(1).clamp(min=1.0)
    d = deg.rsqrt()
    return -(d[:, None] * adj * d[None, :])


def conv_bn(c_in: int, c_out: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class ImageDecoder(nn.Module):
    """layer4 -> S/4 in three x2 steps, each fusing the encoder's feature map of that size.

    Returns the feature maps at [S/32, S/16, S/8, S/4] with `dims` channels (4 sizes)."""

    def __init__(self, channels, dims):
        super().__init__()
        self.top = conv_bn(channels[3], dims[0], 1)
        self.skip = nn.ModuleList([conv_bn(channels[2 - i], dims[i + 1], 1) for i in range(3)])
        self.fuse = nn.ModuleList([conv_bn(dims[i] + dims[i + 1], dims[i + 1]) for i in range(3)])

    def forward(self, feats):
        x = self.top(feats[3])
        out = [x]
        for i in range(3):
            skip = self.skip[i](feats[2 - i])
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.fuse[i](torch.cat([x, skip], dim=1))
            out.append(x)
        return out


class FeedForward(nn.Module):
    def __init__(self, dim: int, ratio: int = 2):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, ratio * dim), nn.GELU(), nn.Linear(ratio * dim, dim))

    def forward(self, x):
        return x + self.net(x)


class Attention(nn.Module):
    """Pre-norm residual multi-head attention of queries x (B,N,d) over keys (B,M,d) (cross=True), or over
    themselves (keys=None)."""

    def __init__(self, dim: int, heads: int, cross: bool = False):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_k = nn.LayerNorm(dim) if cross else None  # (every parameter is used: DDP requires it)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x, keys=None):
        q = self.norm_q(x)
        k = q if keys is None else self.norm_k(keys)
        return x + self.attn(q, k, k, need_weights=False)[0]


class TokenGrid(nn.Module):
    """PIFA's image side at one level: a patch convolution to an n x n token grid (n = min(tokens, map side)),
    a learned positional embedding, then self-attention and a feed-forward block over the tokens."""

    def __init__(self, c_in: int, dim: int, side: int, tokens: int, heads: int):
        super().__init__()
        n = min(tokens, side)
        self.patch = nn.Conv2d(c_in, dim, side // n, stride=side // n)
        self.position = nn.Parameter(torch.zeros(1, n * n, dim))
        self.attn = Attention(dim, heads)
        self.ffn = FeedForward(dim)

    def forward(self, fmap):
        t = self.patch(fmap).flatten(2).transpose(1, 2) + self.position.to(fmap.dtype)
        return self.ffn(self.attn(t))


class PIFA(nn.Module):
    """Nodes attend over [nodes; image tokens] (one self-attention), then a feed-forward block."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attn = Attention(dim, heads)
        self.ffn = FeedForward(dim)

    def forward(self, x, tokens):
        n = x.shape[1]
        return self.ffn(self.attn(torch.cat([x, tokens], dim=1))[:, :n])


class CHA(nn.Module):
    """Cross-hand attention at one level: self-attention within each hand (its own weights), cross-attention to the
    other hand with weights shared by both hands, then a feed-forward block per hand."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.own = nn.ModuleDict({h: Attention(dim, heads) for h in HANDS})
        self.cross = Attention(dim, heads, cross=True)
        self.ffn = nn.ModuleDict({h: FeedForward(dim) for h in HANDS})

    def forward(self, x: dict) -> dict:
        y = {h: self.own[h](x[h]) for h in HANDS}
        other = {"right": "left", "left": "right"}
        return {h: self.ffn[h](self.cross(y[h], y[other[h]])) for h in HANDS}


class HandDecoder(nn.Module):
    """One hand's coarse-to-fine GCN with PIFA; CHA is applied by the caller between the two hands."""

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
        # The finest level predicts an offset from the template's node positions (normalised units).
        template = torch.as_tensor(graph.template, dtype=torch.float32)
        pool = torch.as_tensor(graph.pooling[2], dtype=torch.float32)
        self.register_buffer("template", pool @ template)
        self.register_buffer("upsample", torch.as_tensor(graph.upsample, dtype=torch.float32))
        self.register_buffer("regressor", torch.as_tensor(graph.regressor21, dtype=torch.float32))
        sizes = [len(a) for a in graph.adjacency]
        self.embed = nn.Linear(global_dim + 3, dims[0])
        self.node_position = nn.ParameterList([nn.Parameter(torch.zeros(1, n, d)) for n, d in zip(sizes, dims)])
        self.blocks = nn.ModuleList([nn.ModuleList([ChebBlock(d) for _ in range(blocks)]) for d in dims])
        self.pifa = nn.ModuleList([PIFA(d, heads) for d in dims])
        self.lift = nn.ModuleList([nn.Linear(dims[i], dims[i + 1]) for i in range(2)])
        self.coords = nn.Linear(dims[2], 3)
        nn.init.normal_(self.coords.weight, std=1e-3)
        nn.init.zeros_(self.coords.bias)

    def initial(self, global_feat):
        """Global feature (B, global_dim) -> node features (B, 63, dims[0])."""
        pos = self.positional.to(global_feat.dtype).expand(global_feat.shape[0], -1, -1)
        g = global_feat[:, None].expand(-1, pos.shape[1], -1)
        return self.embed(torch.cat([g, pos], dim=-1))

    def level(self, lvl: int, x, tokens):
        x = x + self.node_position[lvl].to(x.dtype)
        lap = getattr(self, f"lap{lvl}").to(x.dtype)
        for block in self.blocks[lvl]:
            x = block(x, lap)
        return self.pifa[lvl](x, tokens)

    def predict(self, x):
        """252-node features (B, 252, d) -> node positions (B, 252, 3), normalised units, float32."""
        return self.coords(x).float() + self.template

    def unpool(self, lvl: int, x):
        return self.lift[lvl](x[:, getattr(self, f"parent{lvl}")])


class CameraHead(nn.Module):
    """(s, tx, ty) from one hand's 252-node features; the same weights serve both hands."""

    def __init__(self, nodes: int, dim: int, hidden: int = 8):
        super().__init__()
        self.reduce = nn.Linear(dim, hidden)
        self.out = nn.Linear(nodes * hidden, 3)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        raw = self.out(F.gelu(self.reduce(x)).flatten(1))
        # The scale is |linear|: positive, so the 2D loss never asks for a hand turned half a turn in the image
        # plane (a negative scale did, and the hand's 3D collapsed towards that compromise), and its gradient
        # does not vanish near 0 as an exp or softplus scale's does (those stayed collapsed once there).
        return torch.cat([CAMERA_SCALE * (1.0 + raw[:, :1]).abs(), raw[:, 1:]], dim=1)


class TwoHandNet(nn.Module):
    """RGB image (B,3,S,S) -> both hands' meshes, joints and cameras, plus auxiliary maps."""

    def __init__(self, graphs: dict, cfg: dict):
        super().__init__()
        m = cfg
        self.cfg = dict(cfg)
        if m.get("arch", "intaghand") not in ARCHS:
            raise InputError(f"model.arch {m.get('arch')!r} is not one of {ARCHS}")
        chans = FEATURE_CHANNELS[m["backbone"]]
        self.encoder = Encoder(build_backbone(m["backbone"], m.get("backbone_weights")))
        dims = list(m["gcn_dims"])
        dec = list(m["decoder_dims"])
        self.heatmap_decoder = ImageDecoder(chans, dec)
        self.dense_decoder = ImageDecoder(chans, dec)
        self.heatmap = nn.Conv2d(dec[3], 42, 1)
        self.mask = nn.Conv2d(dec[3], 2, 1)
        self.dense = nn.Conv2d(dec[3], 6, 1)
        # GCN level l reads the fused features at S/32, S/16, S/8: both decoders, plus layer3 / layer2.
        extra = (0, chans[2], chans[1])
        self.fusion = nn.ModuleList([conv_bn(2 * dec[lvl] + extra[lvl], dims[lvl], 1) for lvl in range(3)])
        side = m["input_size"] // 32
        self.tokens = nn.ModuleList(
            [TokenGrid(dims[lvl], dims[lvl], side * 2**lvl, m["tokens"], m["heads"]) for lvl in range(3)]
        )
        self.global_fc = nn.ModuleDict({h: nn.Linear(chans[3], m["global_dim"]) for h in HANDS})
        self.decoders = nn.ModuleDict({h: HandDecoder(graphs[h], m["global_dim"], dims, m["blocks_per_level"],
                                                      m["heads"]) for h in HANDS})  # fmt: skip
        self.cha = nn.ModuleList([CHA(d, m["heads"]) for d in dims])
        self.camera = CameraHead(len(graphs["right"].adjacency[2]), dims[2])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalise(self, image):
        """uint8 RGB (B,3,S,S) 0..255, or float 0..1 -> ImageNet-normalised float on the image's device."""
        x = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
        return (x - self.mean) / self.std

    def image_features(self, feats):
        """(heatmaps, mask, dense at S/4, [GCN feature maps at S/32, S/16, S/8])."""
        hm, dn = self.heatmap_decoder(feats), self.dense_decoder(feats)
        extra = (None, feats[2], feats[1])
        fused = []
        for lvl in range(3):
            parts = [hm[lvl], dn[lvl]] + ([extra[lvl]] if extra[lvl] is not None else [])
            fused.append(self.fusion[lvl](torch.cat(parts, dim=1)))
        return self.heatmap(hm[3]), self.mask(dn[3]), torch.sigmoid(self.dense(dn[3])), fused

    def forward(self, image):
        """image: uint8 RGB (B,3,S,S) (or float in 0..1), as the data loader gives it."""
        feats = self.encoder(self.normalise(image))
        heatmaps, mask, dense, fused = self.image_features(feats)
        pooled = feats[3].mean((2, 3))
        x = {h: self.decoders[h].initial(self.global_fc[h](pooled)) for h in HANDS}
        for lvl in range(3):
            tokens = self.tokens[lvl](fused[lvl])
            x = {h: self.decoders[h].level(lvl, x[h], tokens) for h in HANDS}
            x = self.cha[lvl](x)
            if lvl < 2:
                x = {h: self.decoders[h].unpool(lvl, x[h]) for h in HANDS}
        out = {"heatmaps": heatmaps, "mask": mask, "dense": dense}
        with torch.autocast(image.device.type, enabled=False):  # the mesh and camera in float32 under AMP
            for h in HANDS:
                out[h] = self._hand_output(h, x[h].float())
        return out

    def _hand_output(self, h: str, x):
        dec = self.decoders[h]
        coarse = dec.predict(x)
        verts = torch.matmul(dec.upsample, coarse)
        joints = torch.matmul(dec.regressor, verts)
        cam = self.camera(x)
        return {
            "verts": verts,
            "joints": joints,
            "coarse": coarse,
            "cam": cam,
            "verts2d": project_weak(verts, cam),
            "coarse2d": project_weak(coarse, cam),
        }


def project_weak(points, cam):
    """Normalised 3D points (B,N,3), camera (B,3) = (s, tx, ty) -> image coordinates in [-1, 1] (B,N,2),
    `training.targets.pixels_to_ndc` of the input's pixels."""
    return cam[:, None, :1] * points[..., :2] + cam[:, None, 1:]

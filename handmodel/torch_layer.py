"""Both hands as a batched torch layer on smplx's MANO (CPU or CUDA), returning the toolkit's 21 joints."""

import contextlib
import io

import torch
from torch import nn

from handmodel.joints import HANDS, MANO16_TIPS_TO_21
from handmodel.models import HandModels, load_model_dir


class HandLayer(nn.Module):
    """layer(hand, pose (B,48), shape (B,10), trans (B,3)) -> vertices (B,778,3), joints (B,21,3), metres.

    Poses are absolute axis-angle (smplx `flat_hand_mean=True`). `models` is a HandModels or a model folder.
    """

    def __init__(self, models, device="cpu", dtype=torch.float32):
        super().__init__()
        import smplx

        folder = models.info["dir"] if isinstance(models, HandModels) else str(models)
        tips = load_model_dir(folder) if not isinstance(models, HandModels) else models
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning about 10 shape coefficients
            manos = {
                hand: smplx.MANO(
                    folder,
                    is_rhand=hand == "right",
                    use_pca=False,
                    flat_hand_mean=True,
                    create_global_orient=False,
                    create_hand_pose=False,
                    create_betas=False,
                    create_transl=False,
                    dtype=dtype,
                )
                for hand in HANDS
            }
        self.mano = nn.ModuleDict(manos)
        for hand in HANDS:
            self.register_buffer(f"tips_{hand}", torch.as_tensor(tips[hand].tip_ids, dtype=torch.long))
        self.register_buffer("order21", torch.as_tensor(MANO16_TIPS_TO_21, dtype=torch.long))
        self.to(device)

    @property
    def faces(self) -> dict[str, torch.Tensor]:
        return {hand: self.mano[hand].faces_tensor for hand in HANDS}

    def forward(self, hand: str, pose: torch.Tensor, shape: torch.Tensor, trans: torch.Tensor):
        out = self.mano[hand](
            global_orient=pose[:, :3], hand_pose=pose[:, 3:], betas=shape, transl=trans, return_verts=True
        )
        tips = out.vertices[:, getattr(self, f"tips_{hand}")]
        joints = torch.cat([out.joints, tips], dim=1)[:, self.order21]
        return out.vertices, joints

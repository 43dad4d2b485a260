"""The hand model every stage shares: loading, skinning, joint orders, cameras (numpy; torch in torch_layer)."""

from handmodel.models import HandModel, HandModels, load_hand_models

__all__ = ["HandModel", "HandModels", "load_hand_models"]

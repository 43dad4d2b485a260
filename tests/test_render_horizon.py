"""The environment stands on the body of the hands: whatever the poses' world frame and the HDRI's spin, a camera
in front of the body with its up along the body's up sees the HDRI's sky above its horizon and its ground below."""

import numpy as np
from scipy.spatial.transform import Rotation

from tests.render_fixtures import write_equirect_exr

SKY, GROUND = (1.0, 0.05, 0.05), (0.05, 0.05, 1.0)


def _camera_in_front_of(body: np.ndarray, size: int):
    """K, R, t of a camera 1 m in front of the body (origin), looking back at it, upright on the body's up."""
    cam_in_body = np.diag([-1.0, 1.0, -1.0])  # rows: the camera's x, y (down), z (view) in body axes
    R = cam_in_body @ body.T
    t = -R @ (body @ np.array([0.0, 0.0, 1.0]))
    K = np.array([[size, 0.0, size / 2], [0.0, size, size / 2], [0.0, 0.0, 1.0]])
    return K, R, t


def test_horizon_stays_level_on_the_body_for_any_world_frame_and_spin(tmp_path):
    from blender_scripts.lighting import WorldParams
    from blender_scripts.quality import RenderQuality
    from blender_scripts.scene import HandScene
    from handmodel import load_hand_models
    from handmodel.joints import HANDS

    h, w, size = 32, 64, 32
    env = np.empty((h, w, 3))
    env[h // 2 :], env[: h // 2] = SKY, GROUND  # row 0 at the bottom: the upper rows are above the horizon
    write_equirect_exr(tmp_path / "split.exr", env)
    models = load_hand_models(quiet=True)
    quality = RenderQuality(samples=1, denoiser="off")
    with HandScene({hd: models[hd].faces for hd in HANDS}, size, size, quality=quality, subdivision=0) as scene:
        scene.set_hands({})  # background only
        for seed in range(3):
            body = Rotation.random(random_state=seed).as_matrix()
            scene.set_world(WorldParams(hdri=str(tmp_path / "split.exr"), rotation=1.3 * seed + 0.4,
                                        body_rotation=tuple(map(tuple, body))))  # fmt: skip
            scene.set_camera(*_camera_in_front_of(body, size))
            rgb = scene.render(rgb=True, exposure=1.0)["rgb"].astype(float)
            top, bottom = rgb[: size // 2 - 2], rgb[size // 2 + 2 :]
            assert (top[..., 0] > top[..., 2] + 60).mean() > 0.98, f"seed {seed}: the sky is not above"
            assert (bottom[..., 2] > bottom[..., 0] + 60).mean() > 0.98, f"seed {seed}: the ground is not below"

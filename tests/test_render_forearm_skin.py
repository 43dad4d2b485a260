"""The forearm continues the hand's skin: its inner side shows the palm's part of the texture, its outer side the
back of the hand's, so a palm and the forearm below it have the same tone (no step at the wrist)."""

import numpy as np

from tests.render_fixtures import write_equirect_exr


def test_forearm_inside_shows_the_palms_skin_and_outside_the_backs(models, tmp_path):
    import cv2

    from blender_scripts.lighting import WorldParams
    from blender_scripts.materials import SkinParams
    from blender_scripts.quality import RenderQuality
    from blender_scripts.render import arm_geometry, hand_meshes, posed_arm
    from blender_scripts.scene import HandScene
    from handmodel.camera import framing_intrinsics, look_at, world_to_camera
    from handmodel.dataset_io import FOREARM_LABELS, HAND_LABELS
    from handmodel.skinning import mano_forward
    from textures.uv_layout import hand_frame, load_or_build

    # A texture whose back-of-hand half (u < 0.5) is blue and palm half red: the colour names the texture's side.
    tex = np.zeros((64, 64, 3), np.uint8)
    tex[:, :32] = (200, 60, 40)  # BGR: blue on the dorsal half
    tex[:, 32:] = (40, 60, 200)  # red on the palmar half
    cv2.imwrite(str(tmp_path / "halves.png"), tex)
    write_equirect_exr(tmp_path / "white.exr", np.ones((16, 32, 3)))
    layouts = load_or_build(models)
    arms = arm_geometry({"right": models["right"]}, {"right": layouts["right"]}, True)
    meshes = hand_meshes({"right": models["right"]}, {"right": layouts["right"]}, arms)
    m = models["right"]
    zero = {"pose": np.zeros(48), "shape": np.zeros(10), "trans": np.zeros(3)}
    v = mano_forward(m, zero["pose"][None], zero["shape"][None], zero["trans"][None])[0][0]
    hand, arm = posed_arm(m, arms["right"], v, zero, None)
    axes, centre = hand_frame(m.v_template, int(m.tip_ids[0]))
    seen = {}
    size = 64
    quality = RenderQuality(samples=4, denoiser="off")
    with HandScene({"right": meshes["faces"]["right"], "left": meshes["faces"]["right"]}, size, size,
                   uvs={"right": meshes["uvs"]["right"]}, palm={"right": meshes["palm"]["right"]}, quality=quality,
                   forearms=arms) as scene:  # fmt: skip
        scene.set_skin(SkinParams(texture=str(tmp_path / "halves.png")))
        scene.set_world(WorldParams(hdri=str(tmp_path / "white.exr")))
        scene.set_hands({"right": hand}, forearms={"right": arm})
        for side, sign in (("palm", -1.0), ("back", 1.0)):
            eye = centre + sign * 0.5 * axes[2] - 0.08 * axes[0]
            R, t = look_at(eye, centre - 0.08 * axes[0], up=axes[1])
            K = framing_intrinsics(world_to_camera(np.concatenate([hand, arm]), R, t), size, fill=0.9)
            scene.set_camera(K, R, t)
            out = scene.render(rgb=True, exposure=1.0)
            seen[side] = {
                label: out["rgb"][out["mask"] == code].astype(float).mean(0)
                for label, code in (("hand", HAND_LABELS["right"]), ("arm", FOREARM_LABELS["right"]))
            }
    for side, redder in (("palm", True), ("back", False)):
        for part in ("hand", "arm"):
            r, b = seen[side][part][0], seen[side][part][2]
            assert (r > b + 30) if redder else (b > r + 30), (side, part, seen[side][part])

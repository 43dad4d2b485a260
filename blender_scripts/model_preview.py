"""A Blender render of the active hand model's two rest-pose hands, labelled with its name and hash
(`cli.py assets preview`: shows at a glance which hand model the toolkit uses).

Runs on the command-line side through the bpy module (never inside Blender's own Python), so it may label the
picture with OpenCV.
"""

import numpy as np

from handmodel.png import write_png


def model_preview(out, mano_dir=None, size: int = 384, samples: int = 32, forearms: bool = True) -> dict:
    """Render the active hand model's two rest-pose hands with Blender (backs to the camera, fingers up, right hand
    on the right, forearms leaving the picture at the bottom; `forearms=False`: bare hands with closed wrists; the
    studio HDRI, a generated mid-tone texture) and label the picture with the model's name and hash."""
    import cv2

    from blender_scripts.lighting import WorldParams
    from blender_scripts.materials import SkinParams
    from blender_scripts.render import arm_geometry, hand_meshes, posed_arm
    from blender_scripts.scene import HandScene
    from handmodel import load_hand_models
    from handmodel.camera import framing_intrinsics, look_at, world_to_camera
    from handmodel.skinning import mano_forward, matrix_to_axis_angle
    from hdri.catalogue import list_hdris
    from textures.catalogue import list_textures
    from textures.uv_layout import hand_frame, load_or_build

    models = load_hand_models(mano_dir, quiet=True)
    layouts = load_or_build(models)
    arms = arm_geometry(models, layouts, forearms)
    verts, points = {}, {}
    for hand, side in (("right", 1.0), ("left", -1.0)):
        m = models[hand]
        axes, _ = hand_frame(m.v_template, int(m.tip_ids[0]))
        J = m.J_regressor @ m.v_template
        # Root rotation: fingers up (world -y) and fanned out a little, the back of the hand to the camera (-z).
        f = (J[4] - J[0]) / np.linalg.norm(J[4] - J[0])
        n = axes[2] - (axes[2] @ f) * f
        n /= np.linalg.norm(n)
        fan = np.radians(12.0) * side
        u = np.array([np.sin(fan), -np.cos(fan), 0.0])
        d = np.array([0.0, 0.0, -1.0])
        rot = np.stack([u, d, np.cross(u, d)], 1) @ np.stack([f, n, np.cross(f, n)], 1).T
        pose = np.zeros(48)
        pose[:3] = matrix_to_axis_angle(rot)
        params = {"pose": pose, "shape": np.zeros(10), "trans": np.array([side * 0.062, 0.085, 0.0]) - J[0]}
        v, _ = mano_forward(m, params["pose"][None], params["shape"][None], params["trans"][None])
        verts[hand], points[hand] = posed_arm(m, arms[hand], v[0], params, None)
    hands = np.concatenate([verts[h][: len(models[h].v_template)] for h in verts])
    centre = (hands.min(0) + hands.max(0)) / 2
    R, t = look_at(centre - np.array([0.0, 0.0, 0.6]), centre, up=(0.0, -1.0, 0.0))
    K = framing_intrinsics(world_to_camera(hands, R, t), size, fill=0.8)
    textures = list_textures(models)
    studio = next(h for h in list_hdris() if h.name == "studio")
    meshes = hand_meshes(models, layouts, arms)
    with HandScene(meshes["faces"], size, size, samples=samples, uvs=meshes["uvs"], palm=meshes["palm"],
                   forearms=arms if forearms else None) as scene:  # fmt: skip
        scene.set_hands(verts, forearms=points if forearms else None)
        scene.set_camera(K, R, t)
        scene.set_skin(SkinParams(texture=textures[len(textures) // 2]))
        scene.set_world(WorldParams(hdri=studio.path, strength=1.2))
        rgb = scene.render()["rgb"]
    img = np.ascontiguousarray(rgb)
    label = f"{models.info['model']}  {models.info['hash'][:12]}"
    cv2.putText(img, label, (8, size - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    write_png(out, img)
    return models.info

"""A Blender render of the active hand model's two rest-pose hands, labelled with its name and hash
(`cli.py assets preview`: shows at a glance which hand model the toolkit uses)."""

import cv2
import numpy as np

from handmodel.png import write_png


def model_preview(out, mano_dir=None, size: int = 384, samples: int = 32) -> dict:
    """Render the active hand model's two rest-pose hands with Blender (back of the hands to the camera, the
    studio HDRI, a generated mid-tone texture) and label the picture with the model's name and hash."""
    from blender_scripts.lighting import WorldParams
    from blender_scripts.materials import SkinParams
    from blender_scripts.scene import HandScene
    from handmodel import load_hand_models
    from handmodel.camera import framing_intrinsics, look_at, world_to_camera
    from hdri.catalogue import list_hdris
    from textures.catalogue import list_textures
    from textures.uv_layout import hand_frame, load_or_build

    models = load_hand_models(mano_dir, quiet=True)
    layouts = load_or_build(models)
    verts, normal = {}, np.zeros(3)
    for k, hand in enumerate(("right", "left")):
        m = models[hand]
        axes, c = hand_frame(m.v_template, int(m.tip_ids[0]))
        side = 1 if k == 0 else -1
        verts[hand] = (
            m.v_template - c + side * 0.06 * axes[1] * (1 if axes[1] @ (m.v_template[m.tip_ids[0]] - c) < 0 else -1)
        )
        normal += axes[2]
    pts = np.concatenate(list(verts.values()))
    centre = (pts.min(0) + pts.max(0)) / 2
    R, t = look_at(centre + 0.6 * normal / np.linalg.norm(normal), centre)
    K = framing_intrinsics(world_to_camera(pts, R, t), size, fill=0.8)
    textures = list_textures(models)
    studio = next(h for h in list_hdris() if h.name == "studio")
    faces = {h: models[h].faces for h in verts}
    with HandScene(faces, size, size, samples=samples, uvs={h: layouts[h]["uv"] for h in verts}) as scene:
        scene.set_hands(verts)
        scene.set_camera(K, R, t)
        scene.set_skin(SkinParams(texture=textures[len(textures) // 2]))
        scene.set_world(WorldParams(hdri=studio.path, strength=1.2))
        rgb = scene.render()["rgb"]
    img = np.ascontiguousarray(rgb)
    label = f"{models.info['model']}  {models.info['hash'][:12]}"
    cv2.putText(img, label, (8, size - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    write_png(out, img)
    return models.info

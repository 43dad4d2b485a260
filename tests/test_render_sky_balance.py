"""The white balance takes its light from the light falling on the hands (the render's direct diffuse light on the
visible skin), as a camera balances for its subject: a grey hand under the procedural sky comes out grey, at a
low and a high sun and whether the camera looks up into the sky or down at the ground."""

import numpy as np

from tests.render_fixtures import write_equirect_exr


def test_grey_hand_under_the_sky_comes_out_grey(models, two_hand_vertices, tmp_path):
    import cv2

    from blender_scripts.exposure import target_luma
    from blender_scripts.lighting import WorldParams
    from blender_scripts.materials import SkinParams
    from blender_scripts.quality import RenderQuality
    from blender_scripts.render import meter
    from blender_scripts.scene import HandScene
    from handmodel.camera import framing_intrinsics, look_at, world_to_camera
    from handmodel.joints import HANDS
    from textures.uv_layout import load_or_build

    cv2.imwrite(str(tmp_path / "grey.png"), np.full((16, 16, 3), 128, np.uint8))
    write_equirect_exr(tmp_path / "white.exr", np.ones((16, 32, 3)))
    layouts = load_or_build(models)
    size = 48
    points = np.concatenate([two_hand_vertices[h] for h in HANDS])
    centre = points.mean(0)
    worlds = {"white": WorldParams(hdri=str(tmp_path / "white.exr"))}
    worlds |= {f"sun at {e}": WorldParams(hdri=None, sun_elevation=e) for e in (0.2, 1.1)}
    # Body up is -y: one camera in front of the hands, one below them looking up, one above looking down.
    views = {"front": ((0.0, 0.0, -0.5), (0.0, -1.0, 0.0)), "up": ((0.0, 0.45, -0.2), (0.0, 0.0, 1.0)),
             "down": ((0.0, -0.45, -0.2), (0.0, 0.0, 1.0))}  # fmt: skip
    chroma = {}
    with HandScene({h: models[h].faces for h in HANDS}, size, size, uvs={h: layouts[h]["uv"] for h in HANDS},
                   quality=RenderQuality(samples=8, denoiser="off"), subdivision=0) as scene:  # fmt: skip
        scene.set_skin(SkinParams(texture=str(tmp_path / "grey.png"), subsurface=0.0))
        scene.set_hands(two_hand_vertices)
        for view, (offset, up) in views.items():
            R, t = look_at(centre + np.array(offset), centre, up=up)
            scene.set_camera(framing_intrinsics(world_to_camera(points, R, t), size, fill=0.7), R, t)
            for name, world in worlds.items():
                scene.set_world(world)
                target = target_luma(scene.skin.tone["albedo"], 0.0)
                out = scene.render(rgb=True, exposure=lambda lin, mask, target=target: meter(lin, mask, target))
                rgb = out["rgb"][out["mask"] > 0].astype(float).mean(0)
                chroma[view, name] = rgb / rgb.mean()
    for (view, name), c in chroma.items():
        assert np.abs(c / chroma[view, "white"] - 1).max() < 0.03, (view, name, c.round(3))

"""Under the procedural sky the white balance takes the light's colour from the whole sky (its mean over the
sphere, as for an HDRI), not from the part of it behind the hands: the same hands under the same sky get the same
gains whichever way the camera looks, and a high sun's blue sky has its blue taken down."""

import numpy as np
import pytest


@pytest.mark.slow
def test_sky_white_balance_does_not_depend_on_where_the_camera_looks(models, two_hand_vertices):
    from blender_scripts.exposure import target_luma
    from blender_scripts.lighting import WorldParams
    from blender_scripts.quality import RenderQuality
    from blender_scripts.render import meter
    from blender_scripts.scene import HandScene
    from handmodel.camera import framing_intrinsics, look_at, world_to_camera
    from handmodel.joints import HANDS

    size = 32
    points = np.concatenate([two_hand_vertices[h] for h in HANDS])
    centre = points.mean(0)
    gains = {}
    with HandScene({h: models[h].faces for h in HANDS}, size, size, subdivision=0,
                   quality=RenderQuality(samples=2, denoiser="off")) as scene:  # fmt: skip
        scene.set_hands(two_hand_vertices)
        scene.set_world(WorldParams(hdri=None, sun_elevation=1.1))
        # Body up is -y: one camera below the hands looking up into the sky, one above looking down at the ground.
        for name, offset in (("looking up", (0.0, 0.45, -0.2)), ("looking down", (0.0, -0.45, -0.2))):
            R, t = look_at(centre + np.array(offset), centre, up=(0.0, 0.0, 1.0))
            scene.set_camera(framing_intrinsics(world_to_camera(points, R, t), size, fill=0.6), R, t)
            target = target_luma(scene.skin.tone["albedo"], 0.0)
            out = scene.render(rgb=True, exposure=lambda lin, mask, target=target: meter(lin, mask, target))
            gains[name] = np.array(out["white_balance"])
    np.testing.assert_allclose(gains["looking up"], gains["looking down"], rtol=1e-6)
    assert gains["looking up"][0] > 1.2 * gains["looking up"][2]  # red raised over blue: the sky's cast taken out

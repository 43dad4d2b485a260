"""One long-lived Blender scene with two hands: update vertices, camera, skin and light in place, render all passes
in one Cycles call.

    scene = HandScene(faces={'right': (F,3), 'left': (F,3)}, width=W, height=H)   # quality=RenderQuality(...)
    scene.set_hands({'right': verts (778,3), 'left': verts (778,3)})   # world metres; omit a hand to hide it
    scene.set_camera(K, R, t)                                          # OpenCV world -> camera, K for W x H
    out = scene.render(rgb=True)   # {'rgb': uint8 HxWx3, 'mask': uint8 HxW (0 bg, 1 right, 2 left,
                                   #  3 right forearm, 4 left forearm), 'depth': float32 HxW camera z in metres,
                                   #  0 = background}

With `forearms` (per hand {'faces' (K,3) ids into an array of points, 'uvs' (K,3,2), 'stations' (K,): distance
from the wrist, see `handmodel.forearm.face_stations`}), each hand gets a forearm object of its own mask label,
sharing the hand's skin material, with a cloth material on the faces of a sleeve;
`set_hands(verts, forearms={hand: points (P,3)}, sleeves={hand: start metres or None})`.

Persistent render data keeps Cycles' scene between renders (only changed geometry is re-synced); orphan data is
purged and freed heap handed back to the system after every render so memory stays flat.
"""

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import sys
import tempfile
from dataclasses import replace

import bpy
import numpy as np
from mathutils import Matrix

from blender_scripts.cloth import ClothMaterial, ClothParams
from blender_scripts.exposure import background_gain, encode, white_balance_gains
from blender_scripts.lighting import World, WorldParams
from blender_scripts.materials import PALM_SHARE, PALM_UV, SkinMaterial, SkinParams
from blender_scripts.passes import decode_passes
from blender_scripts.quality import DEFAULT_QUALITY, RenderQuality, apply_quality
from blender_scripts.subdivision import Subdivided, SubdivisionMapError
from handmodel.camera import blender_intrinsics, opencv_to_blender_matrix_world
from handmodel.dataset_io import BACKGROUND_LABEL, FOREARM_LABELS, HAND_LABELS
from handmodel.joints import HANDS


def _libc_malloc_trim():
    """glibc's malloc_trim, or None elsewhere."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _libc_malloc_trim()
MIN_SKIN_PIXELS = 16  # visible hand and forearm pixels the white balance needs to take its light from them
PIXEL_FILTER_WIDTH = 1.5  # Cycles' default pixel filter (Blackman-Harris) width for the RGB, in pixels


def subdivision_quality(levels: int) -> int:
    """The subdivision modifier's evaluation quality for `levels` Catmull-Clark levels: the lowest that gives the
    same vertices, UVs and normals as Blender's default (3), to float rounding. The modifier places each vertex on
    the limit surface; a quality below the levels moves vertices by up to a millimetre, a higher one changes
    nothing but costs time (every sample, as the hands move: at 1 level, quality 3 costs about 15 ms more per
    object than quality 1)."""
    return min(max(int(levels), 1), 3)


@contextlib.contextmanager
def _quiet_stdout():
    """Silence Blender's per-render 'Saved: ...' line (printed by C code straight to file descriptor 1)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def use_cycles_device(scene, device: str) -> None:
    """Render `scene` on the CPU, or on every GPU of one Cycles backend (blender_scripts.quality.CYCLES_DEVICES);
    InputError where Blender finds none (after read_factory_settings, which resets the preferences)."""
    import socket

    from handmodel.errors import InputError

    if device == "cpu":
        scene.cycles.device = "CPU"
        return
    backend = device.upper()
    prefs = bpy.context.preferences.addons["cycles"].preferences
    try:
        prefs.compute_device_type = backend
    except TypeError:
        raise InputError(f"--render-device {device}: this Blender build has no {backend} backend") from None
    prefs.get_devices()
    gpus = [d for d in prefs.devices if d.type == backend]
    if not gpus:
        raise InputError(f"--render-device {device}: Blender finds no {backend} GPU on {socket.gethostname()} "
                         "(use --render-device cpu, or run on a node with one)")  # fmt: skip
    for d in prefs.devices:
        d.use = d.type == backend
    scene.cycles.device = "GPU"


class HandScene:
    """The Blender scene of two hands. faces: per hand (F,3) vertex ids; uvs: optional per hand (F,3,2) UV
    coordinates of each face corner (needed for textures); subdivision: Catmull-Clark levels at render time;
    threads: render threads (0 = all cores); device: 'cpu' or a GPU backend (`use_cycles_device`); quality:
    samples, denoiser and the other Cycles settings (blender_scripts.quality); samples, if given, overrides
    quality.samples."""

    def __init__(self, faces: dict, width: int = 256, height: int = 256, samples: int | None = None,
                 uvs: dict | None = None, subdivision: int = 1, threads: int = 0,
                 quality: RenderQuality = DEFAULT_QUALITY, forearms: dict | None = None,
                 palm: dict | None = None, device: str = "cpu"):  # fmt: skip
        bpy.ops.wm.read_factory_settings(use_empty=True)
        if samples is not None:
            quality = replace(quality, samples=int(samples))
        self.width, self.height, self.quality = int(width), int(height), quality
        sc = bpy.context.scene
        self.scene = sc
        r = sc.render
        r.engine = "CYCLES"
        use_cycles_device(sc, device)
        r.resolution_x, r.resolution_y, r.resolution_percentage = self.width, self.height, 100
        r.use_persistent_data = True
        r.threads_mode = "FIXED" if threads > 0 else "AUTO"
        if threads > 0:
            r.threads = threads
        # The background comes in its own pass (camera rays that leave the scene), so the exposure rule can hold
        # a blown-out background down without touching the light on the hands; Combined is the premultiplied rest.
        r.film_transparent = True
        vl = sc.view_layers[0]
        vl.name = "ViewLayer"
        vl.use_pass_environment = True
        vl.use_pass_z = True
        vl.use_pass_diffuse_direct = True  # the light on the hands: the white balance's illuminant
        vl.use_pass_object_index = True
        im = r.image_settings
        im.media_type = "MULTI_LAYER_IMAGE"
        im.file_format = "OPEN_EXR_MULTILAYER"
        im.color_depth = "32"
        im.exr_codec = "NONE"
        # Single-part EXR: Blender 5.0 fails to write multi-part files when pixel aspect != 1 (fx != fy).
        im.use_exr_interleave = True
        self._tmp = tempfile.mkdtemp(prefix="handscene_")
        r.filepath = os.path.join(self._tmp, "passes.exr")

        self.skin = SkinMaterial()
        self.world = World(sc)
        self.world.apply(WorldParams())
        apply_quality(sc, quality)
        self.skin.apply(SkinParams())
        self.cloth = ClothMaterial()
        self.cloth.apply(ClothParams())
        self.objects, self.forearms = {}, {}
        self._subdivided = {}  # object name -> Subdivided
        self._vertex_counts = {h: int(np.asarray(faces[h]).max()) + 1 for h in HANDS}
        for hand in HANDS:
            f = np.asarray(faces[hand], dtype=np.int64)
            self.objects[hand] = self._make_mesh(f"{hand}_hand", f, None if uvs is None else uvs.get(hand),
                                                 subdivision, HAND_LABELS[hand],
                                                 None if palm is None else palm.get(hand))  # fmt: skip
            if forearms and hand in forearms:
                self.forearms[hand] = self._make_forearm(hand, forearms[hand], subdivision)
        cam = bpy.data.cameras.new("camera")
        cam.sensor_fit = "HORIZONTAL"
        cam.clip_start, cam.clip_end = 0.01, 100.0
        self.camera = bpy.data.objects.new("camera", cam)
        sc.collection.objects.link(self.camera)
        sc.camera = self.camera
        # The world's rotation is given to everything drawn and to the camera (World.rotation_of), so the world
        # itself stays fixed while samples share its HDRI.
        self._turn = Matrix.Identity(4)
        self._camera_world = Matrix.Identity(4)

    def _make_mesh(self, name: str, faces: np.ndarray, uvs, subdivision: int, pass_index: int, palm=None):
        """palm: (UVs (F,3,2) on the palm's skin, share (F,3) of it) per face corner, the skin material's second
        texture lookup (blender_scripts/materials.py); None: none (share 0)."""
        n_verts = int(faces.max()) + 1
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata(np.zeros((n_verts, 3)).tolist(), [], faces.tolist())
        mesh.shade_smooth()
        if uvs is not None:
            uvs = np.asarray(uvs, dtype=np.float32)
            if uvs.shape != (len(faces), 3, 2):
                raise ValueError(f"{name} UVs have shape {uvs.shape}, expected ({len(faces)}, 3, 2)")
            layer = mesh.uv_layers.new(name="UVMap")
            layer.data.foreach_set("uv", uvs.ravel())
        if palm is not None:
            palm_uvs, share = (np.asarray(x, dtype=np.float32) for x in palm)
            if palm_uvs.shape != (len(faces), 3, 2) or share.shape != (len(faces), 3):
                raise ValueError(f"{name} palm layers have shapes {palm_uvs.shape}, {share.shape}")
            mesh.uv_layers.new(name=PALM_UV).data.foreach_set("uv", palm_uvs.ravel())
            mesh.attributes.new(PALM_SHARE, "FLOAT", "CORNER").data.foreach_set("value", share.ravel())
        mesh.materials.append(self.skin.material)
        obj = bpy.data.objects.new(name, mesh)
        obj.pass_index = pass_index
        self.scene.collection.objects.link(obj)
        if subdivision > 0:
            mod = obj.modifiers.new("subdivision", "SUBSURF")
            mod.levels = mod.render_levels = subdivision
            mod.quality = subdivision_quality(subdivision)
            try:
                self._subdivided[name] = Subdivided(obj, faces)
            except SubdivisionMapError as e:  # keep the modifier: slower, the same surface
                print(f"notice: {name}: {e}; subdividing with Blender's modifier", file=sys.stderr)
        obj.hide_render = True
        return obj

    def _move(self, obj, verts: np.ndarray) -> None:
        """Set a mesh object's (coarse) vertices; a subdivided one gets its subdivided surface."""
        sub = self._subdivided.get(obj.name)
        if sub is not None:
            sub.set(verts)
            return
        obj.data.vertices.foreach_set("co", np.asarray(verts, dtype=np.float32).ravel())
        obj.data.update()

    def _set_face_values(self, obj, name: str, values: np.ndarray) -> None:
        """Set a per-face integer attribute given on the object's coarse faces (a subdivided one: on their pieces)."""
        sub = self._subdivided.get(obj.name)
        if sub is not None:
            sub.set_face_values(name, values)
            return
        obj.data.polygons.foreach_set(name, np.asarray(values, dtype=np.int32))

    def _make_forearm(self, hand: str, spec: dict, subdivision: int) -> dict:
        """The forearm object: its faces re-indexed onto the points they use, materials [skin, cloth]."""
        faces = np.asarray(spec["faces"], dtype=np.int64)
        used = np.unique(faces)
        local = np.searchsorted(used, faces)
        name = f"{hand}_forearm"
        obj = self._make_mesh(name, local, spec.get("uvs"), subdivision, FOREARM_LABELS[hand], spec.get("palm"))
        obj.data.materials.append(self.cloth.material)
        # Light bouncing off a forearm onto the hands is faint; skipping it keeps the forearm's cost to the pixels
        # it covers (it still casts shadows).
        obj.visible_diffuse = obj.visible_glossy = obj.visible_transmission = False
        return {"object": obj, "used": used, "stations": np.asarray(spec["stations"], dtype=np.float64),
                "sleeve": None}  # fmt: skip

    def set_cloth(self, params: ClothParams) -> None:
        self.cloth.apply(params)

    def set_hands(self, verts: dict, forearms: dict | None = None, sleeves: dict | None = None) -> None:
        """verts[hand]: (V,3) world metres; a hand left out (or None) is hidden. forearms[hand]: (P,3) the points
        its forearm's faces index (left out: no forearm drawn); sleeves[hand]: where its sleeve starts (metres
        from the wrist) or None."""
        forearms, sleeves = forearms or {}, sleeves or {}
        for hand, fa in self.forearms.items():
            obj, points = fa["object"], forearms.get(hand)
            obj.hide_render = points is None or verts.get(hand) is None
            if obj.hide_render:
                continue
            start = sleeves.get(hand)
            if start != fa["sleeve"]:
                index = np.zeros(len(fa["stations"]), np.int32) if start is None else (fa["stations"] >= start)
                self._set_face_values(obj, "material_index", index)
                fa["sleeve"] = start
            self._move(obj, np.asarray(points)[fa["used"]])
        for hand, obj in self.objects.items():
            v = verts.get(hand)
            obj.hide_render = v is None
            if v is None:
                continue
            v = np.asarray(v, dtype=np.float64)
            expected = self._vertex_counts[hand]
            if v.shape != (expected, 3):
                raise ValueError(f"{hand} vertices have shape {v.shape}, expected ({expected}, 3)")
            self._move(obj, v)

    def set_camera(self, K: np.ndarray, R: np.ndarray, t: np.ndarray) -> None:
        """OpenCV camera: K (3,3) pixels for this scene's W x H, R (3,3), t (3,) world -> camera, metres."""
        p = blender_intrinsics(K, self.width, self.height)
        cam = self.camera.data
        cam.lens, cam.sensor_width = p["lens"], p["sensor_width"]
        cam.shift_x, cam.shift_y = p["shift_x"], p["shift_y"]
        self.scene.render.pixel_aspect_x = p["pixel_aspect_x"]
        self.scene.render.pixel_aspect_y = p["pixel_aspect_y"]
        self._camera_world = Matrix(opencv_to_blender_matrix_world(R, t).tolist())
        self.camera.matrix_world = self._turn @ self._camera_world

    def set_skin(self, params: SkinParams) -> None:
        self.skin.apply(params)

    def set_world(self, params: WorldParams) -> None:
        self.world.apply(params)
        turn = Matrix(self.world.rotation_of(params).tolist()).to_4x4()
        if turn != self._turn:
            self._turn = turn
            for obj in [*self.objects.values(), *(fa["object"] for fa in self.forearms.values())]:
                obj.matrix_world = turn
            self.camera.matrix_world = turn @ self._camera_world

    def render(self, rgb: bool = True, exposure=1.0) -> dict[str, np.ndarray]:
        """Render every pass in one Cycles call. rgb=False renders 1 sample with no denoiser (mask and depth only,
        much faster, each pixel sampled at its centre): the data passes come from each pixel's first sample.

        exposure: the film's gain on the scene-linear image, or a meter `exposure(linear (H,W,3), mask (H,W)) ->
        gain` that chooses it from this very render's hands (blender_scripts.exposure), which then also holds a
        blown-out background down (`background_gain`); out['exposure'] and out['background_gain'] are the gains.
        """
        sc = self.scene
        sc.cycles.samples = self.quality.samples if rgb else 1
        # A label-only render samples each pixel at its centre, so a mask pixel shows what projects there.
        width = PIXEL_FILTER_WIDTH if rgb else 0.01
        if sc.cycles.filter_width != width:
            sc.cycles.filter_width = width
        want = rgb and self.quality.denoiser != "off"
        if sc.cycles.use_denoising != want:
            sc.cycles.use_denoising = want
        path = sc.render.filepath
        if os.path.exists(path):
            os.unlink(path)
        with _quiet_stdout():
            bpy.ops.render.render(write_still=True)
        metered = callable(exposure)
        gain = 1.0 if metered else exposure
        out = decode_passes(path, sc.view_layers[0].name, rgb=rgb and not metered, gain=gain, linear=rgb and metered)
        if rgb:
            out["exposure"], out["background_gain"] = float(gain), 1.0
            if metered:
                fg, bg = out.pop("linear"), out.pop("background")
                wb = white_balance_gains(self._illuminant(out.pop("direct_light", None), out["mask"]))
                fg, bg = fg * wb, bg * wb
                out["white_balance"] = [round(float(g), 4) for g in wb]
                out["exposure"] = float(exposure(fg, out["mask"]))
                out["background_gain"] = background_gain(bg[out["mask"] == 0] * out["exposure"])
                out["rgb"] = encode(fg + out["background_gain"] * bg, out["exposure"])
        bpy.data.orphans_purge(do_recursive=True)
        if _MALLOC_TRIM is not None:
            # The denoiser's and the render's large buffers are freed every sample, but glibc keeps freed heap
            # pages: without this the resident size drifts up by tens of MB over a run (about 6 ms here).
            _MALLOC_TRIM(0)
        return out

    def _illuminant(self, direct_light, mask) -> np.ndarray | None:
        """The white balance's light: the mean colour of the light arriving straight from the world on the visible
        skin (the Diffuse Direct pass: the surface's own colour is not in it), as a camera balances for the light on
        its subject; where too little skin is visible, the HDRI's mean colour over the sphere (none for the sky:
        the image is then left as rendered)."""
        skin = mask != BACKGROUND_LABEL
        if direct_light is not None and skin.sum() >= MIN_SKIN_PIXELS:
            light = direct_light[skin].mean(0)
            if float(light.sum()) > 0:
                return light
        return self.world.illuminant

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

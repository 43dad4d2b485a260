"""The `demo` command: both predicted meshes drawn over each input image, a video, or a webcam stream.

As IntagHand's demo: there is no hand detector, so the hands should be roughly centred and fill most of the
frame. Single images are padded to a square; video and webcam frames are centre-cropped to one.
"""

import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from handmodel import load_hand_models
from handmodel.atomic import atomic_path
from handmodel.camera import crop_affine
from handmodel.colours import HAND_COLOURS_BGR
from handmodel.dataset_io import JPEG_START, PNG_SIGNATURE, image_size, read_input_bytes
from handmodel.errors import InputError
from handmodel.joints import HANDS
from training.checkpoint import load_model
from training.dataset import letterbox_affine
from training.mesh_graph import hand_graphs
from training.targets import ndc_to_pixels

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
ALPHA = 0.8


def centre_square_affine(width: int, height: int, size: int) -> np.ndarray:
    """(2,3) affine: the centred square of a W x H frame, scaled to size x size (pixel centres at integers:
    handmodel/camera.py)."""
    return crop_affine(((width - 1) / 2, (height - 1) / 2), size / min(width, height), size)


class Reconstructor:
    """A loaded checkpoint that maps a BGR image and its crop affine to 2D meshes in image pixels."""

    def __init__(self, checkpoint, device="cpu", mano_dir=None):
        models = load_hand_models(mano_dir, quiet=True)
        graphs = hand_graphs(models)
        self.net, ckpt = load_model(checkpoint, models, graphs, device)
        self.size = ckpt["config"]["model"]["input_size"]
        self.faces = {h: graphs[h].faces for h in HANDS}
        self.device = device

    @torch.no_grad()
    def __call__(self, image_bgr: np.ndarray, A: np.ndarray) -> dict:
        """Per hand: verts2d (V,2) image pixels, depth (V,), verts3d (V,3) normalised, for the crop affine A (2,3)."""
        S = self.size
        crop = cv2.warpAffine(image_bgr, A, (S, S), flags=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        x = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]  # uint8; the network normalises
        out = self.net(x.to(self.device))
        Ainv = cv2.invertAffineTransform(A)
        result = {}
        for h in HANDS:
            v2d = ndc_to_pixels(out[h]["verts2d"][0].float().cpu().numpy(), S)
            verts = out[h]["verts"][0].float().cpu().numpy()
            # Both hands are predicted in one frame (the left hand's joint 9), so z orders them.
            result[h] = {
                "verts2d": v2d @ Ainv[:, :2].T + Ainv[:, 2],
                "depth": verts[:, 2],
                "verts3d": verts,
            }
        return result


def draw_meshes(image: np.ndarray, meshes: dict, faces: dict) -> np.ndarray:
    """Both meshes flat-shaded over `image` (BGR), far faces first, blended with ALPHA.

    meshes[hand]: verts2d (V,2) image pixels, depth (V,) for the drawing order, verts3d (V,3) for shading.
    """
    layer = image.copy()
    covered = np.zeros(image.shape[:2], dtype=np.uint8)
    polys, depth, colors = [], [], []
    for h in HANDS:
        v, d, f = meshes[h]["verts2d"], meshes[h]["depth"], faces[h]
        t3 = meshes[h]["verts3d"][f]
        n = np.cross(t3[:, 1] - t3[:, 0], t3[:, 2] - t3[:, 0])
        # Flat shading by how squarely a face looks at the camera (a light at the eye).
        shade = 0.35 + 0.65 * np.abs(n[:, 2]) / (np.linalg.norm(n, axis=1) + 1e-12)
        polys.append(v[f])
        depth.append(d[f].mean(1))
        colors.append(shade[:, None] * np.array(HAND_COLOURS_BGR[h], dtype=np.float64))
    polys, depth, colors = map(np.concatenate, (polys, depth, colors))
    for i in np.argsort(-depth, kind="stable"):
        p = np.round(polys[i] * 16).astype(np.int32)
        cv2.fillConvexPoly(layer, p, colors[i].tolist(), lineType=cv2.LINE_AA, shift=4)
        cv2.fillConvexPoly(covered, p, 1, shift=4)
    out = image.copy()
    m = covered.astype(bool)
    out[m] = (ALPHA * layer[m] + (1 - ALPHA) * image[m]).astype(np.uint8)
    return out


def read_image(path: Path) -> np.ndarray:
    """A BGR image, checked whole (a JPEG or PNG cut short is not decoded into a half-grey picture); InputError
    naming the file otherwise."""
    data = read_input_bytes(path)
    if data[:2] == JPEG_START or data[:8] == PNG_SIGNATURE or path.suffix.lower() in (".jpg", ".jpeg", ".png"):
        image_size(data, path)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: cannot be decoded as an image")
    return image


def _images(img_path: Path) -> list[Path]:
    if img_path.is_file():
        return [img_path]
    if not img_path.is_dir():
        raise InputError(f"{img_path}: no such image or folder (--img_path)")
    files = sorted(p for p in img_path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{img_path}: no .jpg/.png images in the folder (--img_path)")
    return files


def demo(checkpoint, save_path, img_path=None, video=None, live: bool = False, device: str = "cpu",
         mano_dir=None, camera: int = 0, progress: bool = True, warn=None) -> list[str]:  # fmt: skip
    """Write overlays to save_path: `<name>_overlay.jpg` per image, `<video>_overlay.mp4`, or live frames.

    Returns the written paths. An image of a folder that cannot be read is reported through `warn(message)`
    (default: a line on stderr) and skipped; when no image of the folder can be read, or --img_path is one image
    that cannot be, it is an InputError.
    `live` shows a window when OpenCV has GUI support (the headless wheel does not),
    and otherwise keeps save_path/live_overlay.jpg current; stop it with q, Esc or Ctrl-C.
    """
    if sum(bool(x) for x in (img_path, video, live)) != 1:
        raise InputError("demo: give exactly one of --img_path, --video or --live")
    rec = Reconstructor(checkpoint, device, mano_dir)
    save = Path(save_path)
    save.mkdir(parents=True, exist_ok=True)
    written = []
    if img_path:
        warn = warn or (lambda message: tqdm.write(f"warning: {message}", file=sys.stderr))
        files = _images(Path(img_path))
        unreadable = []
        for path in tqdm(files, desc="demo", unit="image", disable=not progress):
            try:
                image = read_image(path)
            except InputError as e:
                if Path(img_path).is_file():
                    raise
                unreadable.append(path)
                warn(f"{e}; skipped")
                continue
            h, w = image.shape[:2]
            overlay = draw_meshes(image, rec(image, letterbox_affine(w, h, rec.size)), rec.faces)
            out = save / f"{path.stem}_overlay.jpg"
            with atomic_path(out) as tmp:
                cv2.imwrite(str(tmp), overlay)
            written.append(str(out))
        if not written:
            raise InputError(f"{img_path}: none of its {len(files)} image(s) could be read (first: {unreadable[0]})")
        return written
    cap = cv2.VideoCapture(str(video) if video else camera)
    if not cap.isOpened():
        raise InputError(f"{video}: cannot open the video" if video else f"webcam {camera}: cannot open it (--live)")
    writer, out = None, None
    gui = live
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if video else None
        bar = tqdm(total=n, desc="demo", unit="frame", disable=not progress)
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            overlay = draw_meshes(frame, rec(frame, centre_square_affine(w, h, rec.size)), rec.faces)
            bar.update(1)
            if video:
                if writer is None:
                    out = save / f"{Path(video).stem}_overlay.mp4"
                    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                writer.write(overlay)
                continue
            if gui:
                try:
                    cv2.imshow("two-hand demo (q to quit)", overlay)
                    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                        break
                    continue
                except cv2.error:
                    gui = False  # headless OpenCV: fall back to a file that is rewritten every frame
            out = save / "live_overlay.jpg"
            with atomic_path(out) as tmp:
                cv2.imwrite(str(tmp), overlay)
        bar.close()
    except KeyboardInterrupt:
        pass
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if out is not None:
        written.append(str(out))
    return written

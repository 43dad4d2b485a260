"""A small most-recently-used cache of Blender images (HDRIs, skin textures) that survive the orphan purge."""

import bpy


class ImageCache:
    """Loads image files into Blender once and keeps the `size` most recently used; `kind` names them in errors."""

    def __init__(self, size: int, kind: str, colorspace: str | None = None):
        self.size, self.kind, self.colorspace = size, kind, colorspace
        self._images: dict[str, bpy.types.Image] = {}

    def get(self, path: str) -> "bpy.types.Image":
        img = self._images.pop(path, None)
        if img is None:
            try:
                img = bpy.data.images.load(path, check_existing=False)
                if self.colorspace:
                    img.colorspace_settings.name = self.colorspace
                # Reading the size loads the file, so a bad one fails here (size 0 below), not in the render;
                # the pixels are not copied out (that costs a few ms per image, and images change every sample).
                _ = img.size[0]
            except RuntimeError as e:
                raise OSError(f"{path}: cannot read the {self.kind} ({e})") from None
            if img.size[0] == 0:
                bpy.data.images.remove(img)
                raise OSError(f"{path}: cannot read the {self.kind} (empty or not an image)")
        img.use_fake_user = True  # kept across the orphan purge while cached
        self._images[path] = img  # most recently used last
        while len(self._images) > self.size:
            bpy.data.images.remove(self._images.pop(next(iter(self._images))))
        return img

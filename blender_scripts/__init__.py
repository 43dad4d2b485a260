"""Everything that drives Blender: the long-lived hand scene, materials, lighting, cameras, render passes, the
dataset writer and the hand-model picture. Inside Blender's Python it imports only bpy, mathutils, numpy, the
standard library and the numpy-only packages `handmodel` (not its torch layer), `textures` and `hdri`. Two parts run
only on the command-line side, through the bpy module: `render.py`'s driver (its progress bar uses tqdm) and
`model_preview.py` (`assets preview`, which labels its picture with OpenCV); both import those lazily.

`render.py` is the entry point (`blender -b -P blender_scripts/render.py -- ...` or
`python blender_scripts/render.py -- ...`); `settings.py` defines its options once (cli.py derives its own from
them). `views.py` is the in-process API other stages use (posed hands through many cameras: masks, depth, RGB);
`scene.HandScene` is the one Blender scene below it.
"""

"""Everything that runs inside Blender: the long-lived hand scene, materials, lighting, cameras, render passes and
the dataset writer. Imports only bpy, mathutils, numpy and the numpy part of `handmodel` (and the standard library).

`render.py` is the entry point (`blender -b -P blender_scripts/render.py -- ...` or
`python blender_scripts/render.py -- ...`); `settings.py` defines its options once (cli.py derives its own from
them). `views.py` is the in-process API other stages use (posed hands through many cameras: masks, depth, RGB);
`scene.HandScene` is the one Blender scene below it.
"""

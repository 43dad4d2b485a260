"""Everything that runs inside Blender: the long-lived hand scene, materials, lighting, cameras, render passes and
the dataset writer. Imports only bpy, mathutils, numpy and the numpy part of `handmodel`.

`render.py` is the entry point (`blender -b -P blender_scripts/render.py -- ...` or
`python blender_scripts/render.py -- ...`); `scene.HandScene` is the in-process API other stages use.
"""

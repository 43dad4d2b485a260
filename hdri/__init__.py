"""The HDRI catalogue: the CC0 HDRIs that ship inside Blender, user folders of equirectangular images, and a
procedural sky that needs no file."""

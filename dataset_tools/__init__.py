"""Tools that look at what the stages made, on the command-line side (OpenCV is fine here; Blender never imports
this package): the dataset contact sheet (`preview.py`) and a dataset drawn with OpenCV instead of rendered
(`drawn.py`) for the trainer's tests and benchmarks. The hand-model picture drives a Blender scene, so it lives in
`blender_scripts/model_preview.py`."""

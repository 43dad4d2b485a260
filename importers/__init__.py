"""Importers of datasets researchers already have into the toolkit's dataset format (handmodel/dataset_io.py)."""

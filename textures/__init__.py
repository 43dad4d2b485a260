"""Skin textures in the hand's UV space: the UV layout (generated once per hand model and cached), skin albedo
textures generated over the range of human skin tones, and user folders of textures painted in that layout."""

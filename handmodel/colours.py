"""The colour that marks each hand in every picture the toolkit draws: contact-sheet outlines and joints, demo mesh
overlays, the sampler's report, the InterHand2.6M plots and overlays. One pair, so right and left read the same
everywhere. Standard library only."""

HAND_COLOURS = {"right": (255, 200, 60), "left": (60, 160, 255)}  # RGB, 0-255: amber and blue, both clear on skin
HAND_COLOURS_BGR = {hand: rgb[::-1] for hand, rgb in HAND_COLOURS.items()}  # for OpenCV drawing
HAND_COLOURS_UNIT = {hand: tuple(c / 255 for c in rgb) for hand, rgb in HAND_COLOURS.items()}  # for matplotlib

"""The command-line side's looking tools and the one PNG writer: files OpenCV reads back exactly, a contact sheet
whose outlines and joints sit where the dataset's masks and annotations say."""

import cv2
import numpy as np
import pytest
from scipy.ndimage import binary_fill_holes

from dataset_tools.drawn import make_drawn_dataset
from dataset_tools.preview import contact_sheet
from handmodel.colours import HAND_COLOURS_BGR
from handmodel.dataset_io import HAND_LABELS, read_annotation
from handmodel.errors import InputError
from handmodel.png import write_png


@pytest.mark.parametrize(
    "shape, dtype", [((5, 7), np.uint8), ((6, 4), np.uint16), ((3, 8, 3), np.uint8), ((4, 4, 4), np.uint8)]
)
def test_write_png_is_read_back_exactly_by_opencv(tmp_path, shape, dtype):
    rng = np.random.default_rng(0)
    image = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    path = tmp_path / "sub" / "x.png"
    write_png(path, image)
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image.ndim == 3:  # OpenCV reads colour as BGR(A)
        back = back[..., [2, 1, 0, 3][: image.shape[2]]]
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, image)
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]  # no temporary left behind


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    return make_drawn_dataset(tmp_path_factory.mktemp("sheet") / "data", n=4, size=64)


def test_contact_sheet_outlines_each_hand_and_marks_its_joints(drawn, tmp_path):
    scale, columns = 2, 3
    assert contact_sheet(drawn, tmp_path / "sheet.png", count=10, columns=columns, scale=scale) == 4
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    tile = 64 * scale
    assert sheet.shape == (2 * tile, columns * tile, 3)
    assert sheet[tile:, 1 * tile :].max() == 0  # 4 samples in a 3-column grid: the last two cells stay empty
    for k in range(4):
        r, c = divmod(k, columns)
        drawn_tile = sheet[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile].astype(int)
        mask = cv2.imread(str(drawn / "masks" / f"{k:08d}.png"), cv2.IMREAD_UNCHANGED)
        mask = cv2.resize(mask, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        ann = read_annotation(drawn, f"{k:08d}")
        for hand, colour in HAND_COLOURS_BGR.items():
            inside = binary_fill_holes(mask == HAND_LABELS[hand]).astype(np.uint8)  # outer outlines only
            edge = (inside - cv2.erode(inside, np.ones((3, 3), np.uint8))).astype(bool)
            # The hand's colour runs along its mask's edge (bones and the other hand interrupt it); away
            # from the edge only the 1-pixel bones carry it.
            near = np.abs(drawn_tile - colour).max(2) < 40
            band = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            assert near[edge].mean() > 0.3, (k, hand, near[edge].mean())
            assert near[~band].mean() < 0.05, (k, hand)
            px = np.round((ann[hand]["joints_2d"] + 0.5) * scale - 0.5).astype(int)
            on = (px >= 0).all(1) & (px < tile).all(1)
            white = drawn_tile[px[on, 1], px[on, 0]].min(1) > 200
            assert white.mean() > 0.8, (k, hand, white.mean())


def test_contact_sheet_of_an_empty_dataset_says_so(drawn, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "meta.json").write_bytes((drawn / "meta.json").read_bytes())
    with pytest.raises(InputError, match="no finished samples to preview"):
        contact_sheet(empty, tmp_path / "sheet.png")

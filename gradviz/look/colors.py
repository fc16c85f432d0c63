"""The app's colours, one place for every view: a brick family's colour (the canvas, the
palette's icons) and a class's colour (the data plot, the boundary, the curves, diagnostics)."""
import numpy as np

FAMILY_COLORS = {"Data": "#4c8bf5", "Gates": "#8e6ad8", "Layers": "#2f9e8f", "Activations": "#e0a030",
                 "Losses": "#b83280", "Regularizers": "#7f8c8d"}
CLASS_COLORS = ("#1c7ed6", "#e8590c", "#2f9e44", "#ae3ec9", "#f59f00", "#0c8599", "#e03131", "#5c940d",
                "#862e9c", "#495057")


def rgb_of(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


PALETTE = np.array([rgb_of(c) for c in CLASS_COLORS], dtype=np.float32)


def region_image(regions: np.ndarray, confidence: np.ndarray | None) -> np.ndarray:
    """Pale class colours; with ``confidence`` (0..1) the colour fades where the net is unsure."""
    mix = np.float32(0.38) if confidence is None else (0.1 + 0.45 * confidence[..., None]).astype(np.float32)
    rgb = (PALETTE - 255)[regions % len(PALETTE)] * mix + 255  # = palette·mix + 255·(1 − mix)
    return rgb.astype(np.uint8)

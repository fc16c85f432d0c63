"""How things look, with no state and no engine: colours (brick families, classes), heatmaps
and the numbers written beside them, the palette's icons. The lowest GUI floor: every other
one may use it."""

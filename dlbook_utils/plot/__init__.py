"""Drawing helpers the lessons share; each function names the lesson that explains it.

One module per kind of picture:

- :mod:`~dlbook_utils.plot.base` — the book's style, ``to_image_array`` and shared axes helpers
- :mod:`~dlbook_utils.plot.images` — ``show_images``
- :mod:`~dlbook_utils.plot.annotations` — ``draw_boxes``, ``overlay_mask``
- :mod:`~dlbook_utils.plot.training` — ``plot_history``, ``confusion_matrix``,
  ``plot_confusion_matrix``
- :mod:`~dlbook_utils.plot.internals` — ``plot_attention``, ``capture_output``,
  ``plot_feature_maps``, ``plot_function_and_derivative``
- :mod:`~dlbook_utils.plot.diagrams` — the board diagrams several lessons draw: a grid of
  numbers with a highlighted window, a block diagram of boxes and arrows

Every function draws with matplotlib, returns the ``Figure`` (or a small dataclass holding it
and the numbers it drew) so that a lesson can adjust or check it, and never calls
``plt.show()``: Jupyter shows the figure at the end of the cell. Assign the result
(``fig = show_images(...)``) so Jupyter does not display it twice. Functions that draw on one
axes take ``ax=`` so a lesson can draw into a grid of its own. New figures are small (about
6 × 3.5 inches) at 100 dpi. Every name below is importable from ``dlbook_utils.plot``.
"""

from __future__ import annotations

from dlbook_utils.plot.annotations import draw_boxes, overlay_mask
from dlbook_utils.plot.base import DPI, FIGSIZE, to_image_array, use_book_style
from dlbook_utils.plot.diagrams import Node, Window, draw_chain, draw_graph, draw_grid
from dlbook_utils.plot.images import show_images
from dlbook_utils.plot.internals import (
    FunctionPlot,
    capture_output,
    plot_attention,
    plot_feature_maps,
    plot_function_and_derivative,
)
from dlbook_utils.plot.training import (
    ConfusionMatrixPlot,
    confusion_matrix,
    plot_confusion_matrix,
    plot_history,
)

__all__ = [
    "FIGSIZE",
    "DPI",
    "use_book_style",
    "to_image_array",
    "show_images",
    "plot_history",
    "draw_boxes",
    "overlay_mask",
    "plot_attention",
    "capture_output",
    "plot_feature_maps",
    "confusion_matrix",
    "plot_confusion_matrix",
    "ConfusionMatrixPlot",
    "plot_function_and_derivative",
    "FunctionPlot",
    "draw_grid",
    "Window",
    "draw_graph",
    "Node",
    "draw_chain",
]

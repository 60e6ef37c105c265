"""Tests of dlbook_utils.plot: each figure's artists against its inputs, the numbers against a
reference (sklearn, analytic derivatives, calling the sub-module directly, hand-made arrays)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.metrics import confusion_matrix as sk_confusion_matrix  # noqa: E402
from torch import nn  # noqa: E402

from dlbook_utils import plot as P  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _rects(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


# ----------------------------------------------------------------------------- style


def test_use_book_style_sets_rcparams_and_is_idempotent():
    with matplotlib.rc_context():
        P.use_book_style()
        first = dict(plt.rcParams)
        P.use_book_style()
        assert dict(plt.rcParams) == first
        assert plt.rcParams["figure.dpi"] == 100
        assert plt.rcParams["savefig.dpi"] == 100
        assert tuple(plt.rcParams["figure.figsize"]) == (6.0, 3.5)
        assert plt.rcParams["axes.grid"] is True
        assert plt.rcParams["figure.autolayout"] is True


# ----------------------------------------------------------------------------- to_image_array


def test_to_image_array_chw_tensor():
    x = torch.rand(3, 5, 7)
    out = P.to_image_array(x)
    assert out.shape == (5, 7, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, x.numpy().transpose(1, 2, 0), atol=1e-7)


def test_to_image_array_hwc_uint8_numpy():
    arr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3
    out = P.to_image_array(arr)
    assert out.shape == (4, 6, 3)
    np.testing.assert_allclose(out, arr.astype(np.float64) / 255.0, atol=1e-7)


def test_to_image_array_pil_rgb_and_gray():
    rgb = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    np.testing.assert_allclose(P.to_image_array(Image.fromarray(rgb)), rgb / 255.0, atol=1e-7)
    gray = rgb[..., 0]
    out = P.to_image_array(Image.fromarray(gray, mode="L"))
    assert out.shape == (9, 11)
    np.testing.assert_allclose(out, gray / 255.0, atol=1e-7)


def test_to_image_array_unnormalises_with_mean_std():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    x = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    normed = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    out = P.to_image_array(normed, mean=mean, std=std)
    np.testing.assert_allclose(out, x.permute(1, 2, 0).numpy(), atol=1e-6, rtol=0)


def test_to_image_array_layouts_batch_of_one_and_clipping():
    x = torch.rand(1, 1, 4, 5)  # a batch of one gray image
    np.testing.assert_allclose(P.to_image_array(x), x[0, 0].numpy(), atol=1e-7)
    hwc = np.random.default_rng(1).random((3, 4, 3))  # ambiguous: read as HWC by default
    np.testing.assert_allclose(P.to_image_array(hwc), hwc, atol=1e-7)
    np.testing.assert_allclose(P.to_image_array(hwc, layout="chw"), hwc.transpose(1, 2, 0),
                               atol=1e-7)
    assert P.to_image_array(np.full((2, 2), 3.0)).max() == 1.0
    assert P.to_image_array(torch.full((2, 2), -1.0)).min() == 0.0


@pytest.mark.parametrize(
    "bad, kwargs, needle",
    [
        (np.zeros((5, 6, 7)), {}, "(5, 6, 7)"),
        (np.zeros((2, 3, 4, 5)), {}, "(2, 3, 4, 5)"),
        (np.zeros(5), {}, "(5,)"),
        (np.zeros((3, 4, 4)), {"layout": "CHW?"}, "'CHW?'"),
        (np.zeros((3, 4, 5)), {"mean": [0.5, 0.5]}, "[0.5, 0.5]"),
    ],
)
def test_to_image_array_rejects_bad_input(bad, kwargs, needle):
    with pytest.raises(ValueError) as err:
        P.to_image_array(bad, **kwargs)
    assert needle in str(err.value)


# ----------------------------------------------------------------------------- show_images


def test_show_images_grid_hides_extra_axes_and_sets_titles():
    imgs = torch.rand(5, 3, 8, 8)
    titles = [f"img {i}" for i in range(5)]
    fig = P.show_images(imgs, titles=titles, ncols=3)
    assert len(fig.axes) == 6
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 5
    assert [ax.get_title() for ax in visible] == titles
    for ax, img in zip(visible, imgs):
        np.testing.assert_allclose(ax.images[0].get_array(), img.permute(1, 2, 0).numpy(),
                                   atol=1e-7)
    assert fig.dpi == 100


def test_show_images_accepts_lists_gray_batches_and_label_tensors():
    fig = P.show_images([np.zeros((4, 4, 3), np.uint8), Image.new("L", (4, 4))], ncols=8)
    assert len(fig.axes) == 2
    fig = P.show_images(torch.rand(3, 6, 6), titles=torch.tensor([7, 8, 9]))  # (N, H, W)
    assert [ax.get_title() for ax in fig.axes] == ["7", "8", "9"]
    assert fig.axes[0].images[0].get_cmap().name == "gray"


def test_show_images_rejects_bad_input():
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        P.show_images(torch.rand(3, 1, 4, 4), titles=["a", "b"])
    with pytest.raises(ValueError, match="ncols must be >= 1, got 0"):
        P.show_images(torch.rand(3, 1, 4, 4), ncols=0)
    with pytest.raises(ValueError, match="empty"):
        P.show_images([])


# ----------------------------------------------------------------------------- plot_history


HISTORY = {
    "train_loss": [1.0, 0.7, 0.5],
    "val_loss": [1.1, 0.8, 0.7],
    "train_acc": [0.5, 0.7, 0.8],
    "val_acc": [0.4, 0.6, 0.7],
}


def test_plot_history_one_subplot_per_family():
    fig = P.plot_history(HISTORY)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "acc"]
    for ax, family in zip(fig.axes, ["loss", "acc"]):
        assert ax.get_xlabel() == "epoch"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "val"]
        for line, split in zip(ax.get_lines(), ["train", "val"]):
            np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
            np.testing.assert_array_equal(line.get_ydata(), HISTORY[f"{split}_{family}"])


def test_plot_history_of_fit_history_skips_empty_and_bookkeeping_lists():
    from dlbook_utils.train import History

    h = History(train_loss=[0.9, 0.5], train_acc=[0.6, 0.8], lr=[0.1, 0.1], epoch_time=[1.0, 1.1])
    fig = P.plot_history(h)  # val lists are empty
    assert [ax.get_title() for ax in fig.axes] == ["loss", "acc"]
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 1]
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), [0.9, 0.5])


def test_plot_history_others_epochs_records_and_metric_selection():
    hist = dict(HISTORY, lr=[0.1, 0.1, 0.01], epoch=[0, 1, 2], note="not a series")
    assert [ax.get_title() for ax in P.plot_history(hist).axes] == ["loss", "acc"]
    fig = P.plot_history(hist, metrics=["lr", "acc", "loss"])
    assert [ax.get_title() for ax in fig.axes] == ["loss", "acc", "lr"]
    np.testing.assert_array_equal(fig.axes[2].get_lines()[0].get_xdata(), [0, 1, 2])
    assert [ax.get_title() for ax in P.plot_history({"loss": [3, 2], "lr": [1, 1]}).axes] == [
        "loss", "lr"]  # no split prefixes anywhere: every numeric key
    records = [{"train_loss": torch.tensor(v)} for v in HISTORY["train_loss"]]
    fig = P.plot_history(records)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), HISTORY["train_loss"])
    fig = P.plot_history(HISTORY, metrics=["val_acc"])
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 1
    assert len(P.plot_history(HISTORY, metrics=["loss"]).axes[0].get_lines()) == 2
    with pytest.raises(ValueError, match="'f1'"):
        P.plot_history(HISTORY, metrics=["f1"])
    with pytest.raises(ValueError, match="str"):
        P.plot_history("loss")


# ----------------------------------------------------------------------------- draw_boxes


def test_draw_boxes_draws_one_rectangle_per_box_at_its_coordinates():
    img = np.zeros((40, 60, 3), np.uint8)
    boxes = torch.tensor([[5.0, 6.0, 25.0, 30.0], [30.5, 2.0, 59.0, 39.0], [0.0, 0.0, 60.0, 40.0]])
    fig = P.draw_boxes(img, boxes, labels=torch.tensor([1, 2, 1]), scores=[0.9, 0.25, 0.5],
                       class_names=["bg", "cat", "dog"])
    ax = fig.axes[0]
    rects = _rects(ax)
    assert len(rects) == 3
    for r, (x1, y1, x2, y2) in zip(rects, boxes.tolist()):
        assert r.get_xy() == pytest.approx((x1, y1))
        assert r.get_width() == pytest.approx(x2 - x1)
        assert r.get_height() == pytest.approx(y2 - y1)
    assert [t.get_text() for t in ax.texts] == ["cat 0.90", "dog 0.25", "cat 0.50"]
    assert rects[0].get_edgecolor() == rects[2].get_edgecolor() != rects[1].get_edgecolor()
    # image extent: the box (0, 0, W, H) frames the whole image
    assert tuple(ax.images[0].get_extent()) == (0, 60, 40, 0)
    assert ax.get_xlim() == (0, 60) and ax.get_ylim() == (40, 0)


def test_draw_boxes_on_given_axes_without_labels_and_with_no_boxes():
    fig, (a, b) = plt.subplots(1, 2)
    out = P.draw_boxes(torch.rand(3, 10, 10), np.array([[1, 1, 4, 4]]), ax=b, colors="yellow")
    assert out is fig and len(_rects(b)) == 1 and len(_rects(a)) == 0 and not b.texts
    assert len(_rects(P.draw_boxes(np.zeros((8, 8)), torch.zeros(0, 4)).axes[0])) == 0
    ax = P.draw_boxes(np.zeros((8, 8)), [[-4.0, 2.0, 6.0, 12.0]]).axes[0]  # an anchor sticking out
    (x_lo, x_hi), (y_hi, y_lo) = ax.get_xlim(), ax.get_ylim()
    assert x_lo < -4 and x_hi > 8 and y_lo < 0 and y_hi > 12


@pytest.mark.parametrize(
    "boxes, kwargs, needle",
    [
        ([[10, 10, 5, 20]], {}, "box 0 = [10.0, 10.0, 5.0, 20.0]"),
        ([[1, 2, 3]], {}, "(1, 3)"),
        ([[1, 2, 3, 4]], {"labels": [1, 2]}, "2 labels for 1 boxes"),
        ([[1, 2, 3, 4]], {"labels": [5], "class_names": ["a", "b"]}, "label 5"),
        ([[1, 2, 3, float("nan")]], {}, "non-finite"),
    ],
)
def test_draw_boxes_rejects_bad_boxes(boxes, kwargs, needle):
    with pytest.raises(ValueError) as err:
        P.draw_boxes(np.zeros((32, 32, 3)), torch.tensor(boxes, dtype=torch.float32), **kwargs)
    assert needle in str(err.value)


# ----------------------------------------------------------------------------- overlay_mask


def _mask() -> torch.Tensor:
    m = torch.zeros(20, 30, dtype=torch.long)
    m[2:8, 3:10] = 1
    m[10:18, 12:25] = 3
    m[1, 3:10] = 255
    return m


def test_overlay_mask_legend_lists_exactly_the_classes_present():
    names = ["background", "circle", "square", "triangle"]
    fig = P.overlay_mask(torch.rand(3, 20, 30), _mask(), class_names=names)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["background", "circle", "triangle",
                                                          "ignore (255)"]
    fig = P.overlay_mask(None, _mask().numpy(), ignore_index=None)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["0", "1", "3", "255"]


def test_overlay_mask_colours_are_the_voc_palette():
    # PASCAL VOC devkit colours: 0 (0,0,0), 1 (128,0,0), 3 (128,128,0), 15 person (192,128,128);
    # ignore 255 is drawn in VOC's cream (224,224,192).
    m = np.array([[0, 1], [3, 15], [255, 255]])
    fig = P.overlay_mask(np.ones((3, 2, 3)), m, alpha=0.4)
    overlay = fig.axes[0].images[1].get_array()  # (H, W, 4)
    expected = np.array([[[0, 0, 0], [128, 0, 0]], [[128, 128, 0], [192, 128, 128]],
                         [[224, 224, 192], [224, 224, 192]]]) / 255
    np.testing.assert_allclose(overlay[..., :3], expected, atol=1e-9)
    np.testing.assert_allclose(overlay[..., 3], 0.4)


@pytest.mark.parametrize(
    "image, mask, kwargs, needle",
    [
        (np.zeros((10, 10, 3)), np.zeros((8, 10), int), {}, "8×10"),
        (None, np.full((4, 4), 0.5), {}, "float64"),
        (None, np.full((4, 4), -1), {}, "-1"),
        (None, np.zeros((2, 4, 4), int), {}, "(2, 4, 4)"),
        (None, np.full((4, 4), 7), {"class_names": ["a", "b"]}, "label 7"),
        (None, np.zeros((4, 4), int), {"alpha": 1.5}, "1.5"),
    ],
)
def test_overlay_mask_rejects_bad_input(image, mask, kwargs, needle):
    with pytest.raises(ValueError) as err:
        P.overlay_mask(image, mask, **kwargs)
    assert needle in str(err.value)


# ----------------------------------------------------------------------------- attention


def test_plot_attention_heatmap_labels_and_colorbar():
    w = torch.softmax(torch.randn(1, 4, 6), dim=-1)
    keys, queries = list("abcdef"), ["q0", "q1", "q2", "q3"]
    fig = P.plot_attention(w, x_labels=keys, y_labels=queries, annotate=True)
    assert len(fig.axes) == 2  # heat map + colorbar
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), w[0].numpy(), atol=1e-7)
    assert [t.get_text() for t in ax.get_xticklabels()] == keys
    assert [t.get_text() for t in ax.get_yticklabels()] == queries
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("key", "query")
    assert len(ax.texts) == 24
    with pytest.raises(ValueError, match=r"\(2, 4, 6\)"):
        P.plot_attention(torch.rand(2, 4, 6))
    with pytest.raises(ValueError, match="3 x_labels for 6"):
        P.plot_attention(w, x_labels=["a", "b", "c"])


# ----------------------------------------------------------------------------- feature maps


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 20, 3, padding=1), nn.BatchNorm2d(20), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(20 * 4 * 4, 5))


def test_capture_output_equals_calling_the_submodule_and_restores_modes():
    net = _net().train()
    net[1].eval()  # a mixed mode that must survive
    x = torch.randn(2, 3, 8, 8)
    stats = net[1].running_mean.clone()
    got = P.capture_output(net, "2", x)
    with torch.no_grad():
        expected = net[:3](x)
    torch.testing.assert_close(got, expected)
    assert net.training and net[0].training and not net[1].training
    torch.testing.assert_close(net[1].running_mean, stats)


def test_plot_feature_maps_from_a_model_draws_the_hooked_output():
    net, x = _net(), torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = net.eval()[:3](x)[0]  # (20, 8, 8) maps of the first example
    fig = P.plot_feature_maps(net, layer="2", x=x, max_maps=16, ncols=8)
    assert len(fig.axes) == 16
    assert all(ax.get_visible() for ax in fig.axes)
    for i, ax in enumerate(fig.axes):
        np.testing.assert_allclose(ax.images[0].get_array(), expected[i].numpy(), atol=1e-6)
        assert ax.get_title() == f"ch {i}"
    assert "16 of 20 channels" in fig.get_suptitle()


def test_plot_feature_maps_from_a_tensor_hides_spare_axes():
    feats = torch.rand(1, 5, 6, 6)
    fig = P.plot_feature_maps(feats, ncols=4)
    assert len(fig.axes) == 8 and sum(ax.get_visible() for ax in fig.axes) == 5
    np.testing.assert_allclose(fig.axes[4].images[0].get_array(), feats[0, 4].numpy())


@pytest.mark.parametrize(
    "args, kwargs, needle",
    [
        ((_net(),), {"layer": "conv9", "x": torch.randn(1, 3, 8, 8)}, "'conv9'"),
        ((_net(),), {"layer": "5", "x": torch.randn(1, 3, 8, 8)}, "(1, 5)"),
        ((_net(),), {"layer": "0"}, "x="),
        ((torch.rand(2, 5, 6, 6),), {}, "(2, 5, 6, 6)"),
        ((torch.rand(5, 6, 6),), {"max_maps": 0}, "got 0"),
    ],
)
def test_plot_feature_maps_rejects_bad_input(args, kwargs, needle):
    with pytest.raises(ValueError) as err:
        P.plot_feature_maps(*args, **kwargs)
    assert needle in str(err.value)


# ----------------------------------------------------------------------------- confusion matrix


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_matches_sklearn(normalize):
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 6, 500), rng.integers(0, 6, 500)
    y_true[y_true == 5] = 4  # class 5 never true: an empty row for normalize="true"
    got = P.confusion_matrix(torch.from_numpy(y_true), y_pred, num_classes=7, normalize=normalize)
    expected = sk_confusion_matrix(y_true, y_pred, labels=range(7), normalize=normalize)
    assert got.dtype == (torch.int64 if normalize is None else torch.float64)
    torch.testing.assert_close(got, torch.from_numpy(expected), check_dtype=False)


def test_confusion_matrix_of_masks_with_ignore_index_matches_sklearn():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 3, (2, 9, 9))
    t[:, 0] = 255
    p = rng.integers(0, 3, (2, 9, 9))
    keep = t != 255
    got = P.confusion_matrix(t, p, num_classes=3, ignore_index=255)
    torch.testing.assert_close(got, torch.from_numpy(sk_confusion_matrix(t[keep], p[keep])),
                               check_dtype=False)


def test_plot_confusion_matrix_draws_and_returns_the_matrix():
    rng = np.random.default_rng(2)
    y_true, y_pred = rng.integers(0, 4, 100), rng.integers(0, 4, 100)
    names = ["circle", "square", "triangle", "star"]
    res = P.plot_confusion_matrix(y_true, y_pred, class_names=names, normalize="true")
    torch.testing.assert_close(res.counts, torch.from_numpy(sk_confusion_matrix(y_true, y_pred)),
                               check_dtype=False)
    torch.testing.assert_close(
        res.matrix, torch.from_numpy(sk_confusion_matrix(y_true, y_pred, normalize="true")))
    np.testing.assert_allclose(res.ax.images[0].get_array(), res.matrix.numpy())
    assert len(res.ax.texts) == 16 and len(res.fig.axes) == 1
    assert [t.get_text() for t in res.ax.get_xticklabels()] == names
    assert (res.ax.get_xlabel(), res.ax.get_ylabel()) == ("predicted", "true")
    big = P.plot_confusion_matrix(rng.integers(0, 15, 50), rng.integers(0, 15, 50), num_classes=15)
    assert len(big.fig.axes) == 2 and not big.ax.texts  # colorbar instead of numbers


@pytest.mark.parametrize(
    "y_true, y_pred, kwargs, needle",
    [
        ([0, 1, 2], [0, 1, 3], {"num_classes": 3}, "class index 3"),
        ([0, -1], [0, 1], {}, "class index -1"),
        ([0.0, 1.0], [0, 1], {}, "argmax"),
        ([0, 1, 1], [0, 1], {}, "3 labels"),
        ([0, 1], [0, 1], {"normalize": "rows"}, "'rows'"),
    ],
)
def test_confusion_matrix_rejects_bad_input(y_true, y_pred, kwargs, needle):
    with pytest.raises(ValueError) as err:
        P.confusion_matrix(torch.tensor(y_true), torch.tensor(y_pred), **kwargs)
    assert needle in str(err.value)


# ----------------------------------------------------------------------------- f and f′


@pytest.mark.parametrize(
    "f, derivative",
    [
        (torch.tanh, lambda x: 1 - torch.tanh(x) ** 2),
        (torch.sigmoid, lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x))),
        (nn.ELU(), lambda x: torch.where(x > 0, torch.ones_like(x), torch.exp(x))),
        (lambda x: x**3, lambda x: 3 * x**2),
        (lambda x: torch.full_like(x, 2.0), lambda x: torch.zeros_like(x)),
    ],
)
def test_plot_function_and_derivative_matches_analytic_derivative(f, derivative):
    res = P.plot_function_and_derivative(f, x_range=(-4, 3), n=351)
    torch.testing.assert_close(res.x, torch.linspace(-4, 3, 351, dtype=torch.float64))
    torch.testing.assert_close(res.y, f(res.x), atol=1e-12, rtol=0)
    torch.testing.assert_close(res.dy, derivative(res.x), atol=1e-6, rtol=0)
    lines = res.ax.get_lines()[-2:]
    np.testing.assert_allclose(lines[1].get_ydata(), res.dy.numpy())
    assert len(res.ax.get_legend().get_texts()) == 2


def test_plot_function_and_derivative_names_axes_and_errors():
    fig, ax = plt.subplots()
    res = P.plot_function_and_derivative(nn.ReLU(), ax=ax, n=11)
    assert res.fig is fig and res.ax is ax
    assert ax.get_title() == "ReLU"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ReLU(x)", "ReLU′(x)"]
    assert P.plot_function_and_derivative(torch.tanh, name="tanh").ax.get_title() == "tanh"
    with pytest.raises(ValueError, match=r"\(2, -2\)"):
        P.plot_function_and_derivative(torch.tanh, x_range=(2, -2))
    with pytest.raises(ValueError, match="got 1"):
        P.plot_function_and_derivative(torch.tanh, n=1)
    with pytest.raises(ValueError, match=r"\(1,\)"):
        P.plot_function_and_derivative(lambda x: x.sum(0, keepdim=True))


# ----------------------------------------------------------------------------- diagrams


def test_draw_grid_writes_every_number_and_frames_each_window() -> None:
    m = np.arange(12).reshape(3, 4)
    fig = P.draw_grid(m, windows=[P.Window(0, 1, 2, 2, "tab:red", "w")], pad=1)
    ax = fig.axes[0]
    numbers = [t.get_text() for t in ax.texts if t.get_text() != "w"]
    assert numbers == [str(v) for v in m.reshape(-1)]  # row by row, every cell
    frames = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_facecolor()[3] == 0]
    assert [(f.get_x(), f.get_y(), f.get_width(), f.get_height()) for f in frames] == [(1, 0, 2, 2)]
    grey = [t for t in ax.texts if t.get_color() == "0.45"]
    assert len(grey) == 12 - 2  # every cell but the two inside the border is padding
    plt.close(fig)


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 2, 2))])
def test_draw_grid_rejects_non_matrices(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="2-D matrix"):
        P.draw_grid(bad)


def test_draw_grid_rejects_a_window_outside() -> None:
    with pytest.raises(ValueError, match="outside the 2×2 grid"):
        P.draw_grid(np.zeros((2, 2)), windows=[P.Window(1, 1, 2, 1)])


def test_draw_graph_draws_a_box_per_node_and_an_arrow_per_edge() -> None:
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    nodes = {"x": P.Node((0, 0), "x"), "f": P.Node((1.5, 0), "f", "op"), "y": P.Node((3, 0), "y", "loss")}
    fig = P.draw_graph(nodes, [("x", "f"), ("f", "y", "grad")])
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == 3 and len(arrows) == 2
    assert [b.get_facecolor()[:3] for b in boxes] == [
        matplotlib.colors.to_rgb(P.diagrams.NODE_COLORS[k]) for k in ("data", "op", "loss")]
    assert {t.get_text() for t in ax.texts} == {"x", "f", "y", "grad"}
    plt.close(fig)


def test_draw_graph_boxes_fit_their_labels_and_edges_take_colours() -> None:
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    nodes = {"a": P.Node((0, 0), "DistributedSampler"), "b": P.Node((1.5, 0), "WWWW", "op")}
    fig = P.draw_graph(nodes, [("a", "b", "grad", "tab:red")])
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for box, label in zip([p for p in ax.patches if isinstance(p, FancyBboxPatch)], ax.texts):
        assert box.get_window_extent(renderer).width > label.get_window_extent(renderer).width
    [arrow] = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert matplotlib.colors.to_rgb(arrow.get_edgecolor()) == matplotlib.colors.to_rgb("tab:red")
    plt.close(fig)


def test_draw_graph_names_unknown_nodes_and_kinds() -> None:
    with pytest.raises(ValueError, match=r"unknown node\(s\) \['z'\]"):
        P.draw_graph({"x": P.Node((0, 0), "x")}, [("x", "z")])
    with pytest.raises(ValueError, match="kind 'tensor'"):
        P.draw_graph({"x": P.Node((0, 0), "x", "tensor")}, [])


def test_draw_chain_snakes_so_every_arrow_joins_neighbours() -> None:
    from matplotlib.patches import FancyArrowPatch

    fig = P.draw_chain([str(i) for i in range(5)], notes=["a", "b", "c", "d"], per_row=3)
    ax = fig.axes[0]
    centres = {t.get_text(): t.get_position() for t in ax.texts if t.get_text().isdigit()}
    assert centres["2"][0] == centres["3"][0]  # row 2 starts under the end of row 1
    assert centres["4"][0] < centres["3"][0]  # and runs back to the left
    assert len([p for p in ax.patches if isinstance(p, FancyArrowPatch)]) == 4
    with pytest.raises(ValueError, match="Got 1 notes for 4 arrows"):
        P.draw_chain(list("abcde"), notes=["x"])
    plt.close(fig)

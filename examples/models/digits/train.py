#!/usr/bin/python3
"""Train the Slipway "digits" example model and export it to ONNX.

The model reads scikit-learn's ``load_digits`` form (8x8, values 0..16, ink high). People give it
canvas drawings and printed digits, which the handler turns into that form (to-digit-pixels.ts,
and its numpy twin digit_images.preprocess). So it trains on both:

- scikit-learn's digits (1,797 scanned handwritten digits, bundled; no download): split stratified
  80/20 train/test with a fixed seed; the 20% test split is held out;
- canvas-style drawings from stroke models of how people write each digit (digit_images.TRAIN_HAND),
  and digits printed in the installed fonts (digit_images.TRAIN_FONT_GLOBS), each with augmentation
  (wobble, slant, rotation, size, position, brush 4-44 px, polarity; font size, margin, tilt, blur,
  noise), all put through the handler's preprocessing.

Model selection (the best epoch) uses a validation split of each. Two held-out sets, never trained
on or selected with, give the final numbers, and the script fails below the targets:
- scikit-learn's test split: >= 0.97;
- the drawn/printed set written by make_heldout.py (another hand and other fonts): >= 0.95.

Outputs (relative to this file):
  1/model.onnx   ONNX opset 17, input ``image`` float32 [batch,1,8,8] (raw 0..16 pixel values;
                 scaling to 0..1 happens inside the graph), output ``probabilities`` float32
                 [batch,10] (softmax inside the graph).
  samples.json   10 held-out scikit-learn test images, one per digit 0..9, as
                 [{"label": n, "image": [[[8 rows of 8 numbers]]]}, ...]

Debian packages: python3-torch, python3-onnx, python3-sklearn, python3-pil, python3-scipy, and
the fonts (see README.md). Takes about 10 minutes on 2 cores:

    /usr/bin/python3 examples/models/digits/train.py
"""

import copy
import glob
import json
import multiprocessing
import os
import random
import sys

import numpy as np
import onnx
import torch
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import digit_images as D  # noqa: E402
from digits_cnn import DigitsCNN  # noqa: E402

SEED = 0
EPOCHS = 10
BATCH_SIZE = 64
LR = 2e-3
WEIGHT_DECAY = 1e-4
OPSET = 17
DRAWN_PER_DIGIT = 1500
PRINTED_PER_DIGIT = 800
VALIDATION_PER_DIGIT = 100  # of each kind
SKLEARN_REPEATS = 6  # scikit-learn's digits weigh about as much as each synthetic kind
SKLEARN_TARGET = 0.97
HELD_OUT_TARGET = 0.95

MODEL_PATH = os.path.join(HERE, "1", "model.onnx")
SAMPLES_PATH = os.path.join(HERE, "samples.json")
HELD_OUT = os.path.join(HERE, "held-out")


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def training_fonts():
    fonts = sorted(f for g in D.TRAIN_FONT_GLOBS for f in glob.glob(g) if not any(s in f for s in D.SKIP_FONTS))
    if len(fonts) < 20:
        raise SystemExit(f"only {len(fonts)} training fonts installed; see README.md for the Debian font packages")
    return fonts


def _synthesise(job):
    """One chunk of synthetic pictures (for a worker process): (kind, digit, count, seed)."""
    kind, digit, count, seed = job
    rng = np.random.default_rng(seed)
    fonts = training_fonts()
    out = []
    while len(out) < count:
        if kind == "drawn":
            hand = D.TRAIN_HAND[digit]
            grey = D.draw_digit(hand[rng.integers(len(hand))], rng)
        else:
            grey = D.print_digit(fonts[rng.integers(len(fonts))], digit, rng)
        try:
            out.append(D.preprocess(grey))
        except D.NoDigit:
            continue
    return kind, digit, np.stack(out)


def synthetic(per_kind, seed):
    """{kind: (images [n,8,8], labels [n])} for drawn and printed digits, seeded."""
    jobs = [(kind, digit, per_kind[kind], seed * 1000 + i * 10 + digit) for i, kind in enumerate(("drawn", "printed")) for digit in range(10)]
    with multiprocessing.Pool(2) as pool:
        chunks = pool.map(_synthesise, jobs)
    result = {}
    for kind in ("drawn", "printed"):
        parts = [(images, np.full(len(images), digit)) for k, digit, images in chunks if k == kind]
        result[kind] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    return result


def held_out_set():
    """The drawn/printed held-out pictures (make_heldout.py), preprocessed: images, labels, kinds."""
    with open(os.path.join(HELD_OUT, "digits.json")) as f:
        meta = json.load(f)
    sheet = np.asarray(Image.open(os.path.join(HELD_OUT, "digits.png")).convert("L"))
    cell, columns = meta["cell"], meta["columns"]
    images = []
    for i in range(len(meta["label"])):
        y, x = divmod(i, columns)
        images.append(D.preprocess(sheet[y * cell : (y + 1) * cell, x * cell : (x + 1) * cell]))
    return np.stack(images), np.array(meta["label"]), np.array(meta["kind"])


def as_tensors(images, labels):
    return torch.from_numpy(np.asarray(images, dtype=np.float32)).unsqueeze(1), torch.from_numpy(np.asarray(labels, dtype=np.int64))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model.logits(x).argmax(dim=1) == y).float().mean().item()


def main():
    seed_everything(SEED)
    digits = load_digits()
    images = digits.images.astype(np.float32)  # (1797, 8, 8), values 0..16
    labels = digits.target.astype(np.int64)
    indices = np.arange(len(labels))
    train_idx, test_idx = train_test_split(indices, test_size=0.2, stratify=labels, random_state=SEED)
    fit_idx, val_idx = train_test_split(train_idx, test_size=0.1, stratify=labels[train_idx], random_state=SEED)

    print("rendering the synthetic drawings and printed digits ...", flush=True)
    train_synth = synthetic({"drawn": DRAWN_PER_DIGIT, "printed": PRINTED_PER_DIGIT}, seed=1)
    val_synth = synthetic({"drawn": VALIDATION_PER_DIGIT, "printed": VALIDATION_PER_DIGIT}, seed=2)
    x_fit, y_fit = as_tensors(
        np.concatenate([np.repeat(images[fit_idx], SKLEARN_REPEATS, axis=0), train_synth["drawn"][0], train_synth["printed"][0]]),
        np.concatenate([np.repeat(labels[fit_idx], SKLEARN_REPEATS), train_synth["drawn"][1], train_synth["printed"][1]]),
    )
    validation = {"sklearn": as_tensors(images[val_idx], labels[val_idx]), **{k: as_tensors(*v) for k, v in val_synth.items()}}
    print(
        f"scikit-learn digits: {len(labels)}; train {len(train_idx)} (fit {len(fit_idx)} x{SKLEARN_REPEATS} + validation {len(val_idx)}), "
        f"held-out test {len(test_idx)}; synthetic: drawn {len(train_synth['drawn'][1])}, printed {len(train_synth['printed'][1])}; "
        f"{len(y_fit)} training images in all"
    )

    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, EPOCHS)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    generator = torch.Generator().manual_seed(SEED)
    best_val, best_epoch, best_state = -1.0, -1, None
    for epoch in range(1, EPOCHS + 1):
        model.train()
        order = torch.randperm(len(y_fit), generator=generator)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            optimiser.zero_grad()
            loss = loss_fn(model.logits(x_fit[batch]), y_fit[batch])
            loss.backward()
            optimiser.step()
        schedule.step()
        scores = {name: accuracy(model, *xy) for name, xy in validation.items()}
        worst = min(scores.values())  # the model must read all three kinds
        if worst > best_val:
            best_val, best_epoch, best_state = worst, epoch, copy.deepcopy(model.state_dict())
        print(f"epoch {epoch:3d}  loss {loss.item():.4f}  validation " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()), flush=True)

    model.load_state_dict(best_state)
    model.eval()
    print(f"selected epoch {best_epoch} (worst validation accuracy {best_val:.4f})")

    sklearn_acc = accuracy(model, *as_tensors(images[test_idx], labels[test_idx]))
    print(f"held-out scikit-learn test accuracy: {sklearn_acc:.4f} ({round(sklearn_acc * len(test_idx))}/{len(test_idx)})")
    held_x, held_y, held_kind = held_out_set()
    with torch.no_grad():
        predicted = model.logits(as_tensors(held_x, held_y)[0]).argmax(dim=1).numpy()
    held_acc = float((predicted == held_y).mean())
    for kind in ("drawn", "printed"):
        mask = held_kind == kind
        print(f"held-out {kind}: {(predicted[mask] == held_y[mask]).mean():.4f} ({(predicted[mask] == held_y[mask]).sum()}/{mask.sum()})")
    print(f"held-out drawn + printed: {held_acc:.4f} ({(predicted == held_y).sum()}/{len(held_y)})")
    if sklearn_acc < SKLEARN_TARGET or held_acc < HELD_OUT_TARGET:
        raise SystemExit(f"below the targets: scikit-learn {sklearn_acc:.4f} (>= {SKLEARN_TARGET}), drawn/printed {held_acc:.4f} (>= {HELD_OUT_TARGET})")

    # Export to ONNX: single self-contained file, dynamic batch dimension.
    os.makedirs(os.path.dirname(MODEL_PATH), exist_ok=True)
    torch.onnx.export(
        model,
        torch.zeros(1, 1, 8, 8, dtype=torch.float32),
        MODEL_PATH,
        input_names=["image"],
        output_names=["probabilities"],
        dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
        opset_version=OPSET,
        do_constant_folding=True,
        export_params=True,
    )
    onnx_model = onnx.load(MODEL_PATH)
    onnx.checker.check_model(onnx_model)
    for init in onnx_model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise SystemExit(f"initializer {init.name} uses external data")
    onnx_model.doc_string = (
        "Slipway example: digit classifier for scikit-learn load_digits 8x8 input, trained on load_digits and on "
        f"canvas drawings and printed digits. Held-out accuracy: load_digits {sklearn_acc:.4f}, drawn/printed {held_acc:.4f}."
    )
    onnx.save(onnx_model, MODEL_PATH)
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH)} bytes)")

    # One held-out test image per digit, first occurrence in test order.
    samples = []
    for digit in range(10):
        idx = next(i for i in test_idx if labels[i] == digit)
        samples.append({"label": digit, "image": [[[int(v) for v in row] for row in images[idx]]]})
    with open(SAMPLES_PATH, "w") as f:
        f.write("[\n" + ",\n".join("  " + json.dumps(s) for s in samples) + "\n]\n")
    print(f"wrote {SAMPLES_PATH}")


if __name__ == "__main__":
    main()

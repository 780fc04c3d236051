"""Fine-tuning and evaluation shared by every technique.

A model's task is read from its output and the labels: a vector of two or more scores with
integer (or one-hot) labels is classification (metric: accuracy); anything else is regression
(metric: mean squared error). Softmax outputs are recognised so that losses use logits where the
model gives them.
"""
from __future__ import annotations

import keras
import numpy as np

from toolchain.base.errors import DataError
from toolchain.compress.data import Dataset, sparse_labels
from toolchain.compress.recipe import DistillOptions, TrainOptions


def outputs_probabilities(model: keras.Model) -> bool:
    """True when the model's last layer ends in a softmax."""
    last = model.layers[-1]
    inner = getattr(last, "layer", last)
    activation = getattr(inner, "activation", None)
    return getattr(activation, "__name__", "") == "softmax" or isinstance(inner, keras.layers.Softmax)


def is_classifier(model: keras.Model, data: Dataset | None = None) -> bool:
    shape = model.outputs[0].shape
    if len(shape) != 2 or (shape[-1] or 0) < 2:
        return False
    if data is None or data.y is None:
        return True
    y = data.y
    return np.issubdtype(y.dtype, np.integer) or (y.ndim == 2 and y.shape[1] == shape[-1])


def metric_name(model: keras.Model, data: Dataset | None = None) -> str:
    return "accuracy" if is_classifier(model, data) else "mse"


def score(predictions: np.ndarray, data: Dataset, classifier: bool) -> float:
    if classifier:
        return float(np.mean(np.argmax(predictions, axis=-1) == sparse_labels(data.y)))
    return float(np.mean((predictions.reshape(data.y.shape) - data.y) ** 2))


def evaluate(model: keras.Model, data: Dataset | None, batch_size: int = 256) -> float | None:
    """Accuracy (classifiers) or MSE of `model` on labeled `data`; None without labels."""
    if data is None or data.y is None:
        return None
    predictions = model.predict(data.x, batch_size=batch_size, verbose=0)
    return score(predictions, data, is_classifier(model, data))


def teacher_logits(teacher: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    out = teacher.predict(x, batch_size=batch_size, verbose=0).astype(np.float32)
    if outputs_probabilities(teacher):
        out = np.log(np.clip(out, 1e-7, 1.0))
    return out


def learning_rate(options: TrainOptions, epochs: int, samples: int):
    """The fine-tuning learning rate: constant, or cosine-decayed to 0 over all its steps."""
    if options.learning_rate_decay == "none":
        return options.learning_rate
    steps = epochs * -(-samples // options.batch_size)
    return keras.optimizers.schedules.CosineDecay(options.learning_rate, decay_steps=max(steps, 1))


def fine_tune(model: keras.Model, train: Dataset, options: TrainOptions, epochs: int,
              callbacks=(), teacher: keras.Model | None = None, distill: DistillOptions | None = None,
              verbose: int = 0, soft_targets: np.ndarray | None = None) -> keras.Model:
    """Train `model` in place for `epochs` on `train` (hard labels, or distillation from `teacher`)."""
    if epochs <= 0:
        return model
    from toolchain.compress.distill import DistillationLoss  # a sibling module; no cycle at import

    classifier = is_classifier(model, train)
    from_logits = not outputs_probabilities(model)
    if distill is not None and teacher is not None:
        soft = soft_targets if soft_targets is not None else teacher_logits(teacher, train.x, options.batch_size)
        if train.y is None:
            labels = np.zeros((len(train), 1), np.float32)
            alpha = 0.0
        else:
            labels = (sparse_labels(train.y)[:, None] if classifier else train.y.reshape(len(train), -1))
            alpha = distill.alpha
        target = np.concatenate([labels.astype(np.float32), soft.reshape(len(train), -1)], axis=1)
        loss = DistillationLoss(temperature=distill.temperature, alpha=alpha, classification=classifier,
                                student_logits=from_logits, label_width=labels.shape[1])
    else:
        if train.y is None:
            raise DataError(train.source, "fine-tuning needs labels 'y' (or distillation: --distill)")
        target = train.y
        if classifier:
            target = sparse_labels(train.y)
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        else:
            loss = keras.losses.MeanSquaredError()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(options, epochs, len(train))), loss=loss)
    model.fit(train.x, target, batch_size=options.batch_size, epochs=epochs, callbacks=list(callbacks),
              verbose=verbose, shuffle=True)
    return model

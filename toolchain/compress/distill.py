"""Knowledge distillation: train a (compressed) student against a teacher's softened outputs.

loss = alpha * hard_loss(labels, student) + (1 - alpha) * T^2 * KL(softmax(t / T) || softmax(s / T))

for classifiers (t, s: teacher and student logits; T: temperature), and the mean squared error to
the teacher's outputs in place of the KL term for other models. Without labels, alpha is 0: the
teacher's outputs are the only target, so unlabeled data is enough. The teacher's outputs are
computed once before training (no augmentation happens here, so they do not change).
"""
from __future__ import annotations

import keras
from keras import ops

from toolchain.compress.data import Dataset
from toolchain.compress.recipe import DistillOptions, TrainOptions


class DistillationLoss(keras.losses.Loss):
    """Loss on y_true = [labels (label_width columns) | teacher logits]."""

    def __init__(self, temperature=4.0, alpha=0.1, classification=True, student_logits=True,
                 label_width=1, name="distillation", **kwargs):
        super().__init__(name=name, **kwargs)
        self.temperature, self.alpha = float(temperature), float(alpha)
        self.classification, self.student_logits = bool(classification), bool(student_logits)
        self.label_width = int(label_width)

    def call(self, y_true, y_pred):
        labels, teacher = y_true[:, : self.label_width], y_true[:, self.label_width:]
        y_pred = ops.reshape(y_pred, (ops.shape(y_pred)[0], -1))
        if not self.classification:
            soft = ops.mean(ops.square(y_pred - teacher), axis=-1)
            hard = ops.mean(ops.square(y_pred - labels), axis=-1)
            return self.alpha * hard + (1.0 - self.alpha) * soft
        logits = y_pred if self.student_logits else ops.log(ops.clip(y_pred, 1e-7, 1.0))
        t = self.temperature
        p_teacher = ops.softmax(teacher / t, axis=-1)
        log_p_student = ops.log_softmax(logits / t, axis=-1)
        log_p_teacher = ops.log_softmax(teacher / t, axis=-1)
        soft = ops.sum(p_teacher * (log_p_teacher - log_p_student), axis=-1) * (t * t)
        hard = keras.losses.sparse_categorical_crossentropy(ops.cast(labels[:, 0], "int32"), logits, from_logits=True)
        return self.alpha * hard + (1.0 - self.alpha) * soft

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature, alpha=self.alpha, classification=self.classification,
                      student_logits=self.student_logits, label_width=self.label_width)
        return config


def distill(student: keras.Model, teacher: keras.Model, train: Dataset, temperature: float = 4.0,
            alpha: float = 0.1, epochs: int = 2, batch_size: int = 64, learning_rate: float = 1e-4,
            callbacks=(), verbose: int = 0) -> keras.Model:
    """Fine-tune `student` in place against `teacher` on `train` (labels optional); returns it."""
    from toolchain.compress.train import fine_tune

    return fine_tune(student, train, TrainOptions(epochs, batch_size, learning_rate, "none"), epochs,
                     callbacks=callbacks, teacher=teacher,
                     distill=DistillOptions(temperature=temperature, alpha=alpha), verbose=verbose)

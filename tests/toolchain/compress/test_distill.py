import numpy as np
import pytest

from tests.toolchain.compress.conftest import blob_data, keras, small_cnn
from toolchain.compress.data import Dataset
from toolchain.compress.distill import DistillationLoss, distill


def test_distillation_loss_matches_its_formula():
    teacher = np.array([[2.0, 0.0, -1.0]], np.float32)
    student = np.array([[0.5, 0.2, 0.1]], np.float32)
    label = 0
    t, alpha = 2.0, 0.25
    loss = DistillationLoss(temperature=t, alpha=alpha)
    value = float(loss(np.concatenate([[[label]], teacher], axis=1).astype(np.float32), student))

    def softmax(z):
        e = np.exp(z - z.max())
        return e / e.sum()

    p, q = softmax(teacher[0] / t), softmax(student[0] / t)
    soft = np.sum(p * (np.log(p) - np.log(q))) * t * t
    hard = -np.log(softmax(student[0])[label])
    assert value == pytest.approx(alpha * hard + (1 - alpha) * soft, rel=1e-5)


def test_distillation_from_unlabeled_data_moves_the_student_towards_the_teacher():
    x, y = blob_data(256)
    teacher = small_cnn(seed=0)
    teacher.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, y, epochs=2, batch_size=32, verbose=0)
    student = small_cnn(seed=7)
    unlabeled = Dataset(x, None, "unlabeled")

    def agreement():
        return np.mean(np.argmax(student.predict(x, verbose=0), 1) == np.argmax(teacher.predict(x, verbose=0), 1))

    before = agreement()
    distill(student, teacher, unlabeled, temperature=2.0, epochs=3, batch_size=32, learning_rate=1e-2)
    assert agreement() > max(before, 0.9)

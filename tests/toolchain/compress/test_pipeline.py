import numpy as np

from tests.toolchain.compress.conftest import blob_data, small_cnn
from toolchain.compress.data import Dataset
from toolchain.compress.pipeline import compress
from toolchain.compress.recipe import ClusterOptions, PruneOptions, Recipe, StructuredOptions, TrainOptions


def test_one_shot_without_training_data():
    model = small_cnn()
    recipe = Recipe(prune=PruneOptions(sparsity=0.5), cluster=ClusterOptions(clusters=8))
    result = compress(model, recipe)
    kernel = result.model.get_layer("dense_mid").kernel.numpy()
    assert int((kernel == 0).sum()) == kernel.size // 2  # pruned at once
    assert np.unique(kernel).size <= 8  # zeros kept, and one of the 8 values
    assert [s.technique for s in result.stages] == ["original", "prune", "cluster"]
    assert result.lut_bits == 3 and result.stages[-1].fine_tuned_epochs == 0
    assert model.get_layer("dense_mid").kernel.numpy().min() != 0  # the input model is untouched


def test_stages_record_parameters_macs_and_accuracy():
    x, y = blob_data(256)
    xt, yt = blob_data(128, seed=5)
    recipe = Recipe(train=TrainOptions(epochs=1, batch_size=32, learning_rate=1e-3),
                    prune_structured=StructuredOptions(sparsity=0.5))
    result = compress(small_cnn(), recipe, Dataset(x, y, "train"), Dataset(xt, yt, "eval"))
    original, pruned = result.stages
    assert pruned.params < original.params and pruned.macs < original.macs
    assert result.metric_name == "accuracy" and 0.0 <= pruned.metric <= 1.0
    assert pruned.fine_tuned_epochs == 1 and "channels kept" in pruned.detail

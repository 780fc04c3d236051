"""tfmot's magnitude pruning, clustering and QAT on the reference CNN, for comparison with edgec's.

Run by compress_fmnist.py inside the tfmot environment (tf_keras + tensorflow-model-optimization),
starting from the same trained weights, on the same layers, data, schedule and epochs. Converted
to int8 the same way and measured with the same functions (LUT compression included for the
clustered model, so flash is comparable).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_USE_LEGACY_KERAS"] = "1"
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402

from compress_fmnist import load_fmnist, reference_cnn  # noqa: E402

COMPRESSED_LAYERS = ("conv2", "conv3", "dense1")  # edgec's default: all but the first conv and last dense


def build_tf_keras(weights: dict):
    import tf_keras

    x = inputs = tf_keras.Input((28, 28, 1), name="image")
    for layer in reference_cnn(tf_keras.layers):
        x = layer(x)
    model = tf_keras.Model(inputs, x, name="fmnist_cnn")
    for layer in model.layers:
        values = [weights[f"{layer.name}/{i}"] for i in range(len(layer.weights))]
        if values:
            layer.set_weights(values)
    return model


def convert(model, calib) -> bytes:
    import tensorflow as tf

    from toolchain.quiet import captured_fds

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with captured_fds(2):
        return bytes(converter.convert())


def measure(key, name, model, calib, x_test, y_test, lut_bits, started, note=""):
    from toolchain.compress.measure import measure_arena_bytes
    from toolchain.compress.lut import lut_compress
    from toolchain.compress.measure import quantize_input, run_tflite, tflite_macs, zip_size

    tflite = convert(model, calib)
    acc = float(np.mean(np.argmax(run_tflite(tflite, x_test), axis=1) == y_test))
    float_acc = float(np.mean(np.argmax(model.predict(x_test, batch_size=256, verbose=0), axis=1) == y_test))
    deployed = tflite
    if lut_bits:
        lut = lut_compress(tflite, lut_bits, check_inputs=quantize_input(tflite, x_test[:8]))
        deployed = lut.model
        note = (note + "; " if note else "") + (
            f"LUT on {len(lut.tensors)} tensors, TFLM outputs "
            f"{'identical' if lut.identical_outputs else 'DIFFERENT'} on {lut.samples_checked} test images")
    return {"key": key, "technique": name, "int8_accuracy": acc, "float_accuracy": float_acc, "params": int(model.count_params()),
            "macs": tflite_macs(deployed), "flash_bytes": len(deployed), "zip_bytes": zip_size(deployed),
            "arena_bytes": measure_arena_bytes(deployed), "seconds": time.time() - started, "note": note}


def cosine(config, epochs, samples):
    """The learning rate edgec's fine-tuning uses: cosine decay to 0 over all steps."""
    import tf_keras

    steps = epochs * -(-samples // config["batch_size"])
    return tf_keras.optimizers.schedules.CosineDecay(config["finetune_learning_rate"], decay_steps=steps)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = json.loads(args.config)

    import tensorflow as tf
    import tf_keras
    import tensorflow_model_optimization as tfmot

    x_train, y_train, x_test, y_test = load_fmnist(config)
    calib = x_train[np.random.default_rng(0).choice(len(x_train), 200, replace=False)]
    weights = dict(np.load(args.weights))
    loss = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    batch = config["batch_size"]
    rows = []

    # Quantization-aware training: tfmot's default 8-bit scheme on the whole model, same epochs and
    # learning rate as edgec's QAT row; converted with the same calibration samples.
    started = time.time()
    tf.keras.utils.set_random_seed(config["seed"])
    base = build_tf_keras(weights)
    quantized = tfmot.quantization.keras.quantize_model(base)
    steps = config["qat_epochs"] * -(-len(x_train) // batch)
    rate = tf_keras.optimizers.schedules.CosineDecay(config["qat_learning_rate"], decay_steps=steps)
    quantized.compile(tf_keras.optimizers.Adam(rate), loss)
    quantized.fit(x_train, y_train, batch_size=batch, epochs=config["qat_epochs"], verbose=2)
    rows.append(measure("tfmot_qat", "tfmot QAT int8", quantized, calib, x_test, y_test, None, started))
    print(rows[-1], flush=True)

    # Magnitude pruning: PolynomialDecay 0 -> sparsity over the first two thirds of the steps, as edgec does.
    started = time.time()
    tf.keras.utils.set_random_seed(config["seed"])
    base = build_tf_keras(weights)
    steps = config["prune_epochs"] * math.ceil(len(x_train) / batch)
    end = max(1, (2 * steps) // 3)
    schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, config["prune_sparsity"], 0, end,
                                                   frequency=min(100, max(1, end // 10)))

    def prune(layer):
        if layer.name in COMPRESSED_LAYERS:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    pruned = tf_keras.models.clone_model(base, clone_function=prune)
    pruned.compile(tf_keras.optimizers.Adam(cosine(config, config["prune_epochs"], len(x_train))), loss)
    pruned.fit(x_train, y_train, batch_size=batch, epochs=config["prune_epochs"], verbose=2,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    sparsity = {l.name: float(np.mean(l.get_weights()[0] == 0)) for l in stripped.layers if l.name in COMPRESSED_LAYERS}
    rows.append(measure("tfmot_prune", f"tfmot prune {config['prune_sparsity']:.0%} + int8", stripped, calib, x_test, y_test, None,
                        started, ", ".join(f"{k}: {v:.1%}" for k, v in sparsity.items())))
    print(rows[-1], flush=True)

    # Clustering: k-means++ initialisation, 16 clusters, same layers and epochs.
    started = time.time()
    tf.keras.utils.set_random_seed(config["seed"])
    base = build_tf_keras(weights)
    init = tfmot.clustering.keras.CentroidInitialization.KMEANS_PLUS_PLUS

    def cluster(layer):
        if layer.name in COMPRESSED_LAYERS:
            return tfmot.clustering.keras.cluster_weights(layer, number_of_clusters=config["clusters"],
                                                         cluster_centroids_init=init)
        return layer

    clustered = tf_keras.models.clone_model(base, clone_function=cluster)
    clustered.compile(tf_keras.optimizers.Adam(cosine(config, config["cluster_epochs"], len(x_train))), loss)
    clustered.fit(x_train, y_train, batch_size=batch, epochs=config["cluster_epochs"], verbose=2)
    stripped = tfmot.clustering.keras.strip_clustering(clustered)
    bits = max(1, math.ceil(math.log2(config["clusters"])))
    rows.append(measure("tfmot_cluster", f"tfmot cluster {config['clusters']} + int8 + LUT", stripped, calib, x_test, y_test, bits,
                        started))
    print(rows[-1], flush=True)

    args.out.write_text(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

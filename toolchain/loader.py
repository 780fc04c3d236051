"""Load pass: a model file or folder -> LoadedModel.

Formats: Keras 3 `.keras`, legacy Keras 2 HDF5 `.h5` (including TF 2.3-2.15 files whose
DepthwiseConv2D config carries `groups`), TensorFlow SavedModel folders, and `.tflite` files
(which skip conversion). TensorFlow is imported only for the formats that need it.
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolchain.base.errors import InputFileError, ModelLoadError, UnsupportedLayerError

FORMATS = ("keras", "h5", "savedmodel", "tflite")


@dataclass(frozen=True)
class LoadedModel:
    path: Path
    format: str
    name: str
    input_shapes: tuple[tuple[int | None, ...], ...]
    input_dtypes: tuple[str, ...]
    output_shapes: tuple[tuple[int | None, ...], ...]
    keras_model: Any = field(default=None, repr=False, compare=False)
    signature: Any = field(default=None, repr=False, compare=False)  # SavedModel serving function
    trackable: Any = field(default=None, repr=False, compare=False)  # keeps SavedModel variables alive
    tflite_bytes: bytes | None = field(default=None, repr=False, compare=False)
    tflite: Any = field(default=None, repr=False, compare=False)  # the parsed TfliteModel (.tflite input)
    layer_names: tuple[str, ...] = ()

    @property
    def is_tflite(self) -> bool:
        return self.format == "tflite"


def model_weights(model: LoadedModel) -> list:
    """The float weights of a Keras model (in model order) or of a SavedModel (its variables, sorted
    by name); empty for a .tflite."""
    if model.keras_model is not None:
        return list(model.keras_model.get_weights())
    variables = getattr(model.trackable, "variables", None) or ()
    return [v.numpy() for v in sorted(variables, key=lambda v: v.name)]


def detect_format(path: Path) -> str:
    if not path.exists():
        raise InputFileError(path, "no such file or folder")
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
            return "savedmodel"
        raise InputFileError(path, "is a folder but not a TensorFlow SavedModel (no saved_model.pb)")
    if not path.is_file():
        raise InputFileError(path, "is not a regular file (a device, FIFO or socket), expected a model file")
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise ModelLoadError(path, "the file is empty")
    if suffix == ".keras":
        return "keras"
    if suffix in (".h5", ".hdf5"):
        return "h5"
    if suffix == ".tflite":
        return "tflite"
    raise InputFileError(path, f"unknown model format '{suffix or path.name}'",
                         "expected .keras, .h5, .tflite or a SavedModel folder")


def model_name(path: Path) -> str:
    return path.name[: -len(path.suffix)] if path.suffix and path.is_file() else path.name


def load_custom_objects(module_path: str | Path | None) -> dict[str, Any]:
    """Import a user's Python file and take its classes and functions as Keras custom objects."""
    if module_path is None:
        return {}
    module_path = Path(module_path)
    if not module_path.is_file():
        raise InputFileError(module_path, "no such Python file (--custom-objects)")
    spec = importlib.util.spec_from_file_location(f"edgec_custom_{module_path.stem}", module_path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:  # the module's exit is not the command's: nothing was built
        raise InputFileError(module_path, f"cannot import it: it called sys.exit({exc.code!r})") from None
    except Exception as exc:
        raise InputFileError(module_path, f"cannot import it: {type(exc).__name__}: {exc}") from None
    return {name: obj for name, obj in vars(module).items()
            if not name.startswith("_") and callable(obj)}


def load_model(path: str | Path, custom_objects_file: str | Path | None = None,
               trust_lambda: bool = False) -> LoadedModel:
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "tflite":
        return _load_tflite(path)
    from toolchain.quiet import import_tensorflow

    import_tensorflow()
    custom = load_custom_objects(custom_objects_file)
    if fmt == "savedmodel":
        return _load_savedmodel(path)
    return _load_keras(path, fmt, custom, trust_lambda)


def _load_tflite(path: Path) -> LoadedModel:
    from toolchain.base.tflite_reader import read_tflite, read_tflite_bytes

    data = read_tflite_bytes(path)
    model = read_tflite(data, str(path))
    sg = model.main
    ins = [sg.tensors[i] for i in sg.inputs]
    outs = [sg.tensors[i] for i in sg.outputs]
    return LoadedModel(
        path=path, format="tflite", name=model_name(path),
        input_shapes=tuple(t.shape for t in ins), input_dtypes=tuple(t.dtype for t in ins),
        output_shapes=tuple(t.shape for t in outs), tflite_bytes=data, tflite=model,
    )


def _legacy_objects() -> dict[str, Any]:
    """Keras 3 stand-ins for Keras 2 layer configs that carry arguments Keras 3 refuses."""
    import keras

    class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
        # TF 2.3-2.15 wrote `groups: 1` into DepthwiseConv2D configs; it never meant anything there.
        def __init__(self, *args, groups=1, **kwargs):
            super().__init__(*args, **kwargs)

    return {"DepthwiseConv2D": DepthwiseConv2D}


def _model_config(path: Path, fmt: str) -> dict | None:
    """The saved architecture (JSON) of a .keras or .h5 file, read without building the model."""
    import json

    try:
        if fmt == "keras":
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("config.json"))
        import h5py

        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            return json.loads(raw) if raw is not None else None
    except Exception:  # unreadable config: the caller reports the original error instead
        return None


def _layers_in(config) -> list[tuple[str, str, str]]:
    """Every (layer name, class name, module) in a saved model config, depth first."""
    found = []
    if isinstance(config, dict):
        inner = config.get("config")
        if "class_name" in config and isinstance(inner, dict) and "name" in inner:
            found.append((inner["name"], config["class_name"], str(config.get("module") or "")))
        for value in config.values():
            found.extend(_layers_in(value))
    elif isinstance(config, list):
        for value in config:
            found.extend(_layers_in(value))
    return found


def _unloadable_layers(path: Path, fmt: str, custom: dict) -> tuple[list[tuple[str, str]], list[str]]:
    """(custom layers Keras does not know, Lambda layers) named in the file's config."""
    import keras

    config = _model_config(path, fmt)
    unknown, lambdas = [], []
    for name, cls, module in _layers_in(config):
        if cls == "Lambda":
            lambdas.append(name)
        elif cls not in custom and not hasattr(keras.layers, cls) and not hasattr(keras.models, cls) \
                and not module.startswith("keras") and cls not in ("Functional", "Sequential", "Model"):
            unknown.append((name, cls))
    return unknown, lambdas


def _explain_keras_error(path: Path, fmt: str, exc: Exception, custom: dict) -> Exception:
    text = str(exc)
    unknown, lambdas = _unloadable_layers(path, fmt, custom)
    if unknown:
        return UnsupportedLayerError(path, unknown, "not a Keras built-in class")
    if lambdas and ("lambda" in text.lower() or "safe_mode" in text):
        return UnsupportedLayerError(path, [(name, "Lambda") for name in lambdas],
                                     "it holds a Python lambda, which is not loaded from untrusted files; "
                                     "if you trust this file, add --trust-lambda")
    if isinstance(exc, (zipfile.BadZipFile, EOFError)):
        return ModelLoadError(path, "corrupted or truncated .keras file (not a valid zip archive)")
    if isinstance(exc, OSError) or "file signature not found" in text or "truncated" in text:
        return ModelLoadError(path, "corrupted or truncated HDF5 file")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return ModelLoadError(path, f"cannot be loaded: {first[:300]}")


def _references(nodes) -> list[list]:
    """The [layer name, node index, tensor index, ...] entries of a Keras 2 inbound_nodes or
    output_layers value (a list of them, or of lists of them)."""
    if isinstance(nodes, list) and len(nodes) >= 3 and isinstance(nodes[0], str) and isinstance(nodes[1], int):
        return [nodes]
    if isinstance(nodes, list):
        return [ref for item in nodes for ref in _references(item)]
    return []


def map_keras2_nested_nodes(config) -> bool:
    """Map a Keras 2 functional config's references to nested Sequential models to Keras 3's node
    numbering; True when something changed.

    In Keras 2 a Sequential built on an Input owns node 0, so the layers after a nested Sequential
    read its node 1 (and the next call's node 2...); Keras 3 gives a Sequential no node of its own,
    the first call makes node 0, and the config is refused ("Invalid Functional model
    configuration"). A nested Functional keeps its own node 0 in Keras 3 too: unchanged.
    """
    changed = False
    if isinstance(config, dict):
        inner = config.get("config")
        layers = inner.get("layers") if isinstance(inner, dict) else None
        if isinstance(layers, list) and all(isinstance(layer, dict) for layer in layers):
            refs = [ref for layer in layers for ref in _references(layer.get("inbound_nodes"))]
            refs += _references(inner.get("output_layers"))
            for layer in layers:
                name = layer.get("name") or (layer.get("config") or {}).get("name")
                if layer.get("class_name") != "Sequential" or "inbound_nodes" not in layer:
                    continue
                mine = [ref for ref in refs if ref[0] == name]
                if mine and min(ref[1] for ref in mine) >= 1:
                    for ref in mine:
                        ref[1] -= 1
                    changed = True
        for value in config.values():
            changed |= map_keras2_nested_nodes(value)
    elif isinstance(config, list):
        for value in config:
            changed |= map_keras2_nested_nodes(value)
    return changed


def _load_h5_with_config(path: Path, config: dict, objects: dict, trust_lambda: bool):
    """Keras' legacy HDF5 loader on a copy of the file, in memory, with `config` as its architecture."""
    import io
    import json

    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "r") as src, h5py.File(io.BytesIO(), "w") as copy:
        for key, value in src.attrs.items():
            copy.attrs[key] = value
        copy.attrs["model_config"] = json.dumps(config)
        if "model_weights" in src:
            src.copy(src["model_weights"], copy, "model_weights")
        return legacy_h5_format.load_model_from_hdf5(copy, custom_objects=objects, compile=False,
                                                     safe_mode=not trust_lambda)


def _load_keras(path: Path, fmt: str, custom: dict, trust_lambda: bool) -> LoadedModel:
    import keras

    from toolchain.compress.registry import saved_objects

    objects = {**saved_objects(), **(_legacy_objects() if fmt == "h5" else {}), **custom}
    if fmt == "keras" and not zipfile.is_zipfile(path):
        raise ModelLoadError(path, "corrupted or truncated .keras file (not a valid zip archive)")
    config = _model_config(path, fmt) if fmt == "h5" else None
    try:
        if config is not None and map_keras2_nested_nodes(config):
            model = _load_h5_with_config(path, config, objects, trust_lambda)
        else:
            model = keras.models.load_model(path, compile=False, custom_objects=objects,
                                            safe_mode=not trust_lambda)
    except Exception as exc:  # Keras raises many types for bad files; each gets one clear line
        raise _explain_keras_error(path, fmt, exc, objects) from None
    if not isinstance(model, keras.Model):
        raise ModelLoadError(path, "does not hold a Keras model")
    inputs = model.inputs
    return LoadedModel(
        path=path, format=fmt, name=model_name(path),
        input_shapes=tuple(tuple(t.shape) for t in inputs),
        input_dtypes=tuple(str(t.dtype) for t in inputs),
        output_shapes=tuple(tuple(t.shape) for t in model.outputs),
        keras_model=model,
        layer_names=tuple(layer.name for layer in model.layers),
    )


def from_keras(model, name: str = "model", path: Path | None = None) -> LoadedModel:
    """A LoadedModel around a Keras model already in memory (e.g. a compressed one)."""
    return LoadedModel(
        path=path or Path(f"{name}.keras"), format="keras", name=name,
        input_shapes=tuple(tuple(t.shape) for t in model.inputs),
        input_dtypes=tuple(str(t.dtype) for t in model.inputs),
        output_shapes=tuple(tuple(t.shape) for t in model.outputs),
        keras_model=model, layer_names=tuple(layer.name for layer in model.layers),
    )


def _strip_optimizer_slots(src: Path, dst: Path) -> None:
    """Copy a SavedModel's graph without optimizer slot variables.

    SavedModels written by Keras 2 training keep the optimizer's slots in their object graph;
    TF 2.16+ cannot restore them ('_UserObject' has no attribute 'add_slot'), and inference never
    needs them. The variables folder is linked, not copied.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((src / "saved_model.pb").read_bytes())
    for meta in proto.meta_graphs:
        for node in meta.object_graph_def.nodes:
            del node.slot_variables[:]
    (dst / "saved_model.pb").write_bytes(proto.SerializeToString())
    for entry in src.iterdir():
        if entry.name != "saved_model.pb":
            (dst / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())


def _load_savedmodel(path: Path) -> LoadedModel:
    import tensorflow as tf

    if not (path / "saved_model.pb").exists():
        raise ModelLoadError(path, "only binary SavedModels (saved_model.pb) are supported")
    tmp = Path(tempfile.mkdtemp(prefix="edgec-sm-"))
    try:
        try:
            _strip_optimizer_slots(path, tmp)
            obj = tf.saved_model.load(str(tmp))
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelLoadError(path, f"corrupted SavedModel: {first[:300]}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    signatures = getattr(obj, "signatures", {})
    if "serving_default" not in signatures:
        raise ModelLoadError(path, "the SavedModel has no 'serving_default' signature",
                             "export it with signatures={'serving_default': ...}")
    fn = signatures["serving_default"]
    _, kwargs = fn.structured_input_signature
    specs = [kwargs[k] for k in sorted(kwargs)]
    outputs = fn.structured_outputs
    out_specs = [outputs[k] for k in sorted(outputs)] if isinstance(outputs, dict) else list(outputs)
    return LoadedModel(
        path=path, format="savedmodel", name=model_name(path),
        input_shapes=tuple(tuple(s.shape.as_list()) for s in specs),
        input_dtypes=tuple(s.dtype.name for s in specs),
        output_shapes=tuple(tuple(s.shape.as_list()) for s in out_specs),
        signature=fn, trackable=obj,
    )

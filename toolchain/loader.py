"""Load pass: a model file or folder -> LoadedModel.

Formats: Keras 3 `.keras`, legacy Keras 2 HDF5 `.h5` (including TF 2.3-2.15 files whose
DepthwiseConv2D config carries `groups`), TensorFlow SavedModel folders, and `.tflite` files
(which skip conversion). TensorFlow is imported only for the formats that need it.
"""
from __future__ import annotations

import importlib.util
import lzma
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolchain.base.errors import InputFileError, ModelLoadError, UnsupportedLayerError
from toolchain.base.files import MODEL_LIMIT_BYTES

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


_ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
                   RuntimeError, zlib.error, lzma.LZMAError)  # RuntimeError: an encrypted member
CONFIG_LIMIT_BYTES = 64 << 20  # a model's architecture JSON; more is no model edgec can build
CONFIG_DEPTH_LIMIT = 200  # nesting of the JSON (Keras writes ~10 per nested model)


def _json_depth(value) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            pending.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            pending.extend((v, depth + 1) for v in item)
    return deepest


def _parse_config(path: Path, text: bytes | str):
    import json

    try:
        config = json.loads(text)
    except RecursionError:
        raise ModelLoadError(path, "the model config (JSON) is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(path, f"the model config is not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(config, dict):
        raise ModelLoadError(path, f"the model config is a JSON {type(config).__name__}, not an object")
    if _json_depth(config) > CONFIG_DEPTH_LIMIT:
        raise ModelLoadError(path, f"the model config (JSON) is nested more than {CONFIG_DEPTH_LIMIT} deep")
    return config


def _read_keras_config(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                raise ModelLoadError(path, "not a Keras 3 model archive (no config.json)") from None
            if info.file_size > CONFIG_LIMIT_BYTES:
                raise ModelLoadError(path, f"its config.json declares {info.file_size:,} B "
                                           f"(more than {CONFIG_LIMIT_BYTES:,} B)")
            with archive.open(info) as f:
                text = f.read(CONFIG_LIMIT_BYTES + 1)
    except ModelLoadError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise ModelLoadError(path, f"corrupted or truncated .keras file ({type(exc).__name__})") from None
    if len(text) > CONFIG_LIMIT_BYTES:
        raise ModelLoadError(path, f"its config.json holds more than {CONFIG_LIMIT_BYTES:,} B")
    config = _parse_config(path, text)
    _check_keras_weights(path)
    return config


def _check_keras_weights(path: Path) -> None:
    """Keras reads a .keras file's weights (model.weights.h5) with the HDF5 library: read them
    first in a forked child, where a crash on a corrupted file is caught."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [i for i in archive.infolist() if i.filename.endswith(".h5")]
            if not names:
                return
            if sum(i.file_size for i in names) > MODEL_LIMIT_BYTES:
                raise ModelLoadError(path, f"its weights declare more than {MODEL_LIMIT_BYTES:,} B")
            members = [archive.read(i) for i in names]
    except ModelLoadError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise ModelLoadError(path, f"corrupted or truncated .keras file ({type(exc).__name__})") from None

    def child() -> int:
        import io

        for data in members:
            _walk_h5(io.BytesIO(data))
        return 0

    _in_child(path, child, "the weights (model.weights.h5)", sum(len(m) for m in members))


def _walk_h5(source):
    """Read every attribute and dataset of an HDF5 file as Keras will; return the file's model_config."""
    import h5py

    with h5py.File(source, "r") as f:
        def visit(_, obj):
            for key in obj.attrs:
                obj.attrs[key]
            if isinstance(obj, h5py.Dataset):
                obj[()]
        for key in f.attrs:
            f.attrs[key]
        f.visititems(visit)
        return f.attrs.get("model_config")


def _in_child(path: Path, body, what: str, size: int) -> None:
    """`body` (HDF5 reads of `size` bytes) in a forked child; its crash or failure is a
    ModelLoadError. The deadline (5 s, and 1 s per 10 MB) is far above what reading takes: the
    HDF5 library loops on some corrupted files."""
    from toolchain.probe import run_in_child

    timeout_s = 5.0 + size / 10e6
    exit_ = run_in_child(body, timeout_s=timeout_s)
    if exit_.timed_out:  # killed at the deadline: before any signal
        raise ModelLoadError(path, f"corrupted HDF5 data in {what} (reading it did not finish within "
                                   f"{timeout_s:.0f} s)")
    if exit_.signal is not None:
        raise ModelLoadError(path, f"corrupted HDF5 data in {what} (the HDF5 library crashed reading it: "
                                   f"{exit_.signal_name})")
    if exit_.code == 4:
        raise ModelLoadError(path, "the HDF5 file holds no model (no model_config: a weights-only file?)")
    if not exit_.ok:
        raise ModelLoadError(path, f"corrupted or truncated HDF5 data in {what}")


def _read_h5_config(path: Path) -> dict:
    """The HDF5 C library trusts the file: a corrupted one can crash it (SIGSEGV). The whole file is
    first read in a forked child; a child that dies is a corrupted file, and the reads Keras makes
    after are the ones that succeeded there."""
    if path.stat().st_size > MODEL_LIMIT_BYTES:
        raise ModelLoadError(path, f"the file is larger than {MODEL_LIMIT_BYTES:,} B")
    with tempfile.TemporaryDirectory(prefix="edgec-h5-") as folder:
        out = Path(folder) / "config.json"

        def child() -> int:
            raw = _walk_h5(path)
            if raw is None:
                return 4
            out.write_bytes(raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogatepass"))
            return 0

        _in_child(path, child, "the file", path.stat().st_size)
        if out.stat().st_size > CONFIG_LIMIT_BYTES:
            raise ModelLoadError(path, f"its model config holds more than {CONFIG_LIMIT_BYTES:,} B")
        text = out.read_bytes()
    return _parse_config(path, text)


def read_model_config(path: Path, fmt: str) -> dict:
    """The saved architecture (JSON) of a .keras or .h5 file, read without building the model and
    without running anything from it; ModelLoadError for a file that holds none readable."""
    return _read_keras_config(path) if fmt == "keras" else _read_h5_config(path)


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

    try:
        config = read_model_config(path, fmt)
    except ModelLoadError:
        config = None
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
                inner_config = layer.get("config")
                name = layer.get("name") or (inner_config.get("name") if isinstance(inner_config, dict) else None)
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
    config = read_model_config(path, fmt)  # a clean error for a file Keras would crash on, or choke on
    try:
        if fmt == "h5" and map_keras2_nested_nodes(config):
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

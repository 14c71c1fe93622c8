#!/usr/bin/env python3
"""Writes tests/corpus: small good and crafted bad files for every parser of outside bytes.

    python3 tools/make_corpus.py [tests/corpus]

expected.json lists every file with the parser that reads it and, for a bad one, a piece of the
error message it must produce; test_corpus checks them all (good ones must parse), and the libFuzzer
targets (scripts/fuzz.sh) start from the same files. The output is deterministic, so running this
again changes nothing unless the script changed.
"""
import gzip
import io
import json
import os
import struct
import sys
import zlib

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "corpus")
expected = {}


def put(kind, name, data, parser=None, error=None):
    """A file of the corpus; error None means the parser (by default the kind's own) must accept it."""
    os.makedirs(os.path.join(out, kind), exist_ok=True)
    with open(os.path.join(out, kind, name), "wb") as f:
        f.write(data)
    expected[f"{kind}/{name}"] = {"parser": parser or {"idx": "idx3"}.get(kind, kind), "error": error}


def gz(data):
    return gzip.compress(data, mtime=0)


# --- IDX (Fashion-MNIST's format): read as images (idx3) or labels (idx1) ---
def idx(rank_dims, payload, code=0x08):
    return bytes([0, 0, code, len(rank_dims)]) + b"".join(struct.pack(">I", d) for d in rank_dims) + payload


images = idx([2, 3, 3], bytes(range(18)))
labels = idx([2], bytes([3, 9]))
put("idx", "good-images.idx", images)
put("idx", "good-images.idx.gz", gz(images))
put("idx", "good-labels.idx.gz", gz(labels), "idx1")
put("idx", "empty.idx", b"", "idx3", "wrong magic number")
put("idx", "float-data.idx", idx([2, 3, 3], bytes(18), code=0x0D), "idx3", "wrong magic number")
put("idx", "labels-as-images.idx", labels, "idx3", "wrong magic number")
put("idx", "truncated-header.idx", images[:9], "idx3", "truncated IDX header")
put("idx", "truncated-data.idx.gz", gz(images[:-5]), "idx3", "truncated or corrupt")
put("idx", "extra-data.idx", images + b"\0", "idx3", "holds 19 data bytes but its header says 18")
put("idx", "zero-dimension.idx", idx([0, 3, 3], b""), "idx3", "implausible dimension 0")
put("idx", "huge-dimensions.idx", idx([1 << 28, 1 << 28, 1 << 28], b""), "idx3",
    "holds 0 data bytes but its header says 268435456 x 268435456 x 268435456")
put("idx", "corrupt-gzip.idx.gz", gz(images)[:12] + b"\xff" * 20, "idx3", "corrupt gzip data")
put("idx", "truncated-gzip.idx.gz", gz(images)[:-10], "idx3", "corrupt gzip data")


# --- safetensors ---
def safetensors(header, data=b"", raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


floats = struct.pack("<6f", *[0.5 * i for i in range(6)])
good = {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, "__metadata__": {"format": "pt"}}
put("safetensors", "good.safetensors", safetensors(good, floats))
put("safetensors", "empty-shape.safetensors",
    safetensors({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, floats[:4]))
put("safetensors", "int64-counter.safetensors",  # as PyTorch stores batch norm's num_batches_tracked
    safetensors({"n": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]}}, struct.pack("<q", 12)))
put("safetensors", "int64-short.safetensors",
    safetensors({"n": {"dtype": "I64", "shape": [2], "data_offsets": [0, 8]}}, struct.pack("<q", 12)), "safetensors",
    "holds 8 bytes but shape [2] needs 16")
put("safetensors", "short.safetensors", b"\x10\0\0", "safetensors", "shorter than 8 bytes")
put("safetensors", "header-past-end.safetensors", struct.pack("<Q", 1 << 40) + b"{}", "safetensors",
    "exceeds the file")
put("safetensors", "header-not-json.safetensors", safetensors(None, raw_header=b"{not json"), "safetensors",
    "header is not a JSON object")
put("safetensors", "header-a-list.safetensors", safetensors([1, 2]), "safetensors", "header is not a JSON object")
put("safetensors", "float16.safetensors",
    safetensors({"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}, floats[:4]), "safetensors",
    "is not supported (only F32, and I64 counters)")
put("safetensors", "no-offsets.safetensors", safetensors({"w": {"dtype": "F32", "shape": [2]}}, floats[:8]),
    "safetensors", "entry needs dtype, shape and data_offsets")
put("safetensors", "offsets-outside.safetensors",
    safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, floats[:20]), "safetensors",
    "lies outside the 20 data bytes")
put("safetensors", "shape-mismatch.safetensors",
    safetensors({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 24]}}, floats), "safetensors",
    "needs 16")
put("safetensors", "shape-overflow.safetensors",
    safetensors({"w": {"dtype": "F32", "shape": [1 << 62, 4, 0], "data_offsets": [0, 0]}}), "safetensors",
    "exceeds the file")
put("safetensors", "negative-shape.safetensors",
    safetensors({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}), "safetensors",
    "is not a list of sizes")
put("safetensors", "metadata-number.safetensors", safetensors({"__metadata__": {"format": 1}}), "safetensors",
    "value of 'format' is not a string")

# --- checkpoints: safetensors with the run's settings and state as JSON metadata ---
config = {"model": "d2l", "epochs": 2, "batch_size": 4, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0,
          "nesterov": False, "lr_schedule": "constant", "lr_step_epochs": 8.0, "lr_gamma": 0.96,
          "warmup_epochs": 0.0, "resize": 96, "threads": 1, "seed": 0, "data_dir": "/data", "train_limit": 8,
          "test_limit": 8, "init": "", "shuffle": True, "out_dir": "runs/x", "log_every": 1, "checkpoint_every": 0}
history = [{"epoch": 1, "step": 2, "loss": 2.3, "train_acc": 0.1, "test_loss": 2.3, "test_acc": 0.1, "lr": 0.1,
            "img_per_sec": 10.0, "wall_time": 1.5}]
state = {"epoch": 2, "batch": 0, "step": 2, "loss_sum": 0.0, "hits": 0, "seen": 0, "epoch_seconds": 0.0,
         "run_seconds": 1.5, "metrics_bytes": 100, "sgd_started": True, "history": history}


def checkpoint(cfg, st):
    meta = {"format": "pt", "googlenet.config": json.dumps(cfg), "googlenet.state": json.dumps(st)}
    return safetensors({"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}, "__metadata__": meta}, floats)


put("checkpoint", "good.safetensors", checkpoint(config, state))
put("checkpoint", "weights-only.safetensors", safetensors(good, floats), "checkpoint", "not a googlenet checkpoint")
put("checkpoint", "config-not-json.safetensors",
    safetensors({"__metadata__": {"googlenet.config": "{", "googlenet.state": "{}"}}), "checkpoint",
    "malformed checkpoint metadata")
put("checkpoint", "missing-setting.safetensors", checkpoint({k: v for k, v in config.items() if k != "lr"}, state),
    "checkpoint", "'lr' is missing")
put("checkpoint", "epochs-too-big.safetensors", checkpoint(dict(config, epochs=1 << 40), state), "checkpoint",
    "'epochs' has an unusable value 1099511627776")
put("checkpoint", "lr-too-big.safetensors", checkpoint(dict(config, lr=1e300), state), "checkpoint",
    "'lr' has an unusable value")
put("checkpoint", "negative-seed.safetensors", checkpoint(dict(config, seed=-1), state), "checkpoint",
    "'seed' has an unusable value -1")
put("checkpoint", "shuffle-a-string.safetensors", checkpoint(dict(config, shuffle="yes"), state), "checkpoint",
    "'shuffle' has an unusable value")
put("checkpoint", "history-not-list.safetensors", checkpoint(config, dict(state, history=3)), "checkpoint",
    "'history' is missing or not a list")
put("checkpoint", "history-entry-float-epoch.safetensors",
    checkpoint(config, dict(state, history=[dict(history[0], epoch=1.5)])), "checkpoint",
    "'epoch' has an unusable value 1.5")


# --- images: PNG and JPEG ---
def png(width, height, color_type, rows, bit_depth=8):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    raw = b"".join(b"\0" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


gray = png(4, 3, 0, [bytes([0, 80, 160, 255])] * 3)
rgb = png(3, 2, 2, [bytes([255, 0, 0, 0, 255, 0, 0, 0, 255])] * 2)
put("image", "gray.png", gray)
put("image", "rgb.png", rgb)
put("image", "rgba.png", png(2, 2, 6, [bytes([10, 20, 30, 0, 200, 100, 50, 255])] * 2))
try:
    from PIL import Image

    for mode, name in (("L", "gray.jpg"), ("RGB", "rgb.jpg")):
        buffer = io.BytesIO()
        picture = Image.new(mode, (9, 7))
        picture.putdata([(i * 29) % 256 if mode == "L" else ((i * 29) % 256, 40, 200) for i in range(63)])
        picture.save(buffer, format="JPEG", quality=90)
        put("image", name, buffer.getvalue())
        if mode == "L":
            put("image", "truncated.jpg", buffer.getvalue()[:-40], "image", "Premature end of JPEG file")
        if mode == "L":  # the same picture, its frame header claiming 65000 x 65000 pixels
            data = bytearray(buffer.getvalue())
            sof = data.index(b"\xff\xc0")
            data[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
            put("image", "huge.jpg", bytes(data), "image", "larger than the 64 Mpixel")
except ImportError:
    sys.exit("make_corpus.py needs PIL (Debian: python3-pil) for the JPEG seeds")
put("image", "empty.png", b"", "image", "neither a PNG nor a JPEG file")
put("image", "text.png", b"this is not a picture\n", "image", "neither a PNG nor a JPEG file")
put("image", "truncated.png", gray[:45], "image", "PNG")
put("image", "bad-crc.png", gray[:29] + b"\0\0\0\0" + gray[33:], "image", "PNG")
put("image", "huge.png", png(100000, 100000, 0, []), "image", "larger than the 64 Mpixel")
put("image", "zero-width.png", png(0, 5, 0, []), "image", "PNG")
put("image", "corrupt-header.jpg", b"\xff\xd8\xff\xe0" + b"\x00\x02" + b"\x13" * 40, "image", "corrupt JPEG")

# --- metrics.jsonl, as `googlenet plot` reads it ---
step = {"type": "step", "epoch": 1, "batch": 1, "step": 1, "loss": 2.3, "train_loss": 2.3, "train_acc": 0.1,
        "lr": 0.1, "img_per_sec": 10.0, "wall_time": 0.5}
epoch = {"type": "epoch", "epoch": 1, "step": 2, "train_loss": 2.0, "train_acc": 0.2, "test_loss": 1.9,
         "test_acc": 0.3, "lr": 0.1, "img_per_sec": 10.0, "wall_time": 1.5}


def lines(*records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


put("metrics", "good.jsonl", lines(step, dict(step, batch=2, step=2), epoch))
put("metrics", "empty.jsonl", b"")
put("metrics", "not-json.jsonl", lines(step) + b"{oops\n", "metrics", "not-json.jsonl:2: not a JSON object")
put("metrics", "no-epoch.jsonl", lines({k: v for k, v in step.items() if k != "epoch"}), "metrics",
    ":1: 'epoch' is missing or not a number")
put("metrics", "unknown-type.jsonl", lines(dict(step, type="batch")), "metrics", "'type' is neither")
put("metrics", "type-a-number.jsonl", lines(dict(step, type=0.2)), "metrics", "'type' is neither")  # found by fuzzing
put("metrics", "epoch-zero.jsonl", lines(dict(epoch, epoch=0)), "metrics", "'epoch' is out of range")
put("metrics", "string-loss.jsonl", lines(dict(step, train_loss="low")), "metrics",
    "'train_loss' is missing or not a number")

# --- model files (docs/models.md) ---
def model(body, **head):
    m = {"name": "m", "input": {"channels": 1, "size": 16}, "classes": 3, "body": body}
    m.update(head)
    return json.dumps(m, indent=1).encode()


tiny = [{"block": "b", "layers": [{"conv": {"out": 8, "kernel": 3, "pad": 1}}, "relu",
                                  {"max_pool": {"kernel": 3, "stride": 2, "ceil": True}},
                                  {"inception": [4, [4, 8], [2, 4], 4]}]},
        "global_avg_pool", {"dropout": {"p": 0.5}}, "flatten", {"linear": {"out": "classes"}}]
put("model", "tiny.json", model(tiny))
put("model", "aux-and-bn.json", model([{"conv_bn": {"out": 8, "kernel": 3}, "name": "stem"},
                                       {"aux": {"weight": 0.3, "layers": ["global_avg_pool", {"linear": {"out": "classes"}}]},
                                        "name": "aux"},
                                       {"inception_bn": {"channels": [4, [4, 8], [2, 4], 4]}, "name": "inc"},
                                       {"lrn": {"size": 3}}, {"adaptive_avg_pool": {"size": 2}},
                                       {"linear": {"out": "classes"}, "name": "fc"}]))
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "d2l.json"), "rb") as f:
    put("model", "d2l.json", f.read())
put("model", "not-json.json", b'{"name": "m",\n "input": {"channels": 1 "size": 16}}', "model", "not-json.json:2:")
put("model", "unknown-key.json", model([{"conv": {"out": 8, "kernal": 3}}]), "model", "body[0].conv: unknown key 'kernal'")
put("model", "no-classes.json", json.dumps({"name": "m", "input": {"channels": 1, "size": 8}, "body": ["relu"]}).encode(),
    "model", "classes: missing")
put("model", "bad-inception.json", model([{"inception": [4, [4], [2, 4], 4]}]), "model",
    "body[0].inception: expected [c1, [c2_reduce, c2], [c3_reduce, c3], c4]")
put("model", "too-small.json", model([{"conv": {"out": 4, "kernel": 40}}]), "model", "body[0].conv: input too small")
put("model", "wrong-end.json", model(["global_avg_pool"]), "model", "body: the network ends with [1, 1, 1] values")
put("model", "huge-number.json", model([{"conv": {"out": 100000, "kernel": 3}}]), "model",
    "body[0].conv.out: expected a whole number of at least 1, not 100000")
put("model", "number-overflow.json", b'{"name": "m", "classes": 5555e55555}', "model",
    "not usable JSON")  # found by fuzzing
put("model", "even-lrn.json", model([{"lrn": {"size": 4}}]), "model", "body[0].lrn.size: must be odd")

# --- ONNX graphs (googlenet import); built with Debian's python3-onnx ---
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
import numpy as np  # noqa: E402


def onnx_model(mutate=None, opset=13):
    """conv -> relu -> max-pool rounding up (Caffe's end padding) -> two paths concatenated ->
    global average pool -> flatten -> gemm: every kind of step the importer takes, at 8x8."""
    r = np.random.RandomState(0)
    inits = [numpy_helper.from_array(r.randn(*shape).astype(np.float32), name) for name, shape in
             [("c.weight", (4, 1, 3, 3)), ("c.bias", (4,)), ("a.weight", (2, 4, 1, 1)), ("b.weight", (3, 4, 3, 3)),
              ("fc.weight", (3, 5)), ("fc.bias", (3,))]]
    n = helper.make_node
    nodes = [n("Conv", ["x", "c.weight", "c.bias"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             n("Relu", ["c"], ["r"], name="relu"),
             n("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]),
             n("Conv", ["p", "a.weight"], ["a"], name="path_a", kernel_shape=[1, 1]),
             n("Conv", ["p", "b.weight"], ["b"], name="path_b", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             n("Concat", ["a", "b"], ["cat"], name="concat", axis=1),
             n("GlobalAveragePool", ["cat"], ["g"], name="gap"),
             n("Flatten", ["g"], ["f"], name="flatten", axis=1),
             n("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1)]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])]
    if mutate:
        mutate(nodes, inits, inputs)
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(graph, producer_name="make_corpus", opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def set_op(i, op):
    def mutate(nodes, inits, inputs):
        nodes[i].op_type = op
    return mutate


def truncate_weights(nodes, inits, inputs):
    inits[0].raw_data = inits[0].raw_data[:-4]


def external_data(nodes, inits, inputs):
    inits[0].data_location = TensorProto.EXTERNAL


def dilate(nodes, inits, inputs):
    nodes[4].attribute.append(helper.make_attribute("dilations", [2, 2]))


def huge_dims(nodes, inits, inputs):
    inits[1].dims[:] = [1 << 40]


def second_input(nodes, inits, inputs):
    inputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 1, 8, 8]))


def residual(nodes, inits, inputs):
    nodes[5] = helper.make_node("Add", ["a", "b"], ["cat"], name="add")  # paths that meet in an Add, as in a ResNet


def concat_on_rows(nodes, inits, inputs):
    nodes[5].attribute[0].i = 2


def no_output(nodes, inits, inputs):
    del nodes[4].output[:]


def dynamic_size(nodes, inits, inputs):
    inputs[0].type.tensor_type.shape.dim[2].dim_param = "H"


put("onnx", "tiny.onnx", onnx_model())
# ONNX strings need not be UTF-8; model files and safetensors headers must be (found by fuzzing)
put("onnx", "not-utf8-names.onnx", onnx_model().replace(b"make_corpus", b"make_corp\xf8s").replace(b"a.weight", b"\xf8.weight"))
put("onnx", "not-protobuf.onnx", b"\x0a\xff\xff\xff\xff not protobuf", "onnx", "not an ONNX model")
put("onnx", "sigmoid.onnx", onnx_model(set_op(1, "Sigmoid")), "onnx", "node 'relu' (Sigmoid): this op is not supported")
put("onnx", "truncated-weights.onnx", onnx_model(truncate_weights), "onnx", "tensor 'c.weight' holds 140 bytes for 36 floats")
put("onnx", "external-data.onnx", onnx_model(external_data), "onnx", "keeps its data in an external file")
put("onnx", "dilated.onnx", onnx_model(dilate), "onnx", "node 'path_b' (Conv): dilated windows are not supported")
put("onnx", "huge-dims.onnx", onnx_model(huge_dims), "onnx", "tensor 'c.bias' has impossible dimensions")
put("onnx", "two-inputs.onnx", onnx_model(second_input), "onnx", "the graph has 2 inputs and 1 outputs")
put("onnx", "residual.onnx", onnx_model(residual), "onnx", "node 'add' (Add): arithmetic on two computed tensors")
put("onnx", "concat-on-rows.onnx", onnx_model(concat_on_rows), "onnx", "node 'concat' (Concat): only concatenation on channels")
put("onnx", "no-output.onnx", onnx_model(no_output), "onnx", "node 'path_b' (Conv): it has no output")  # found by fuzzing
put("onnx", "dynamic-size.onnx", onnx_model(dynamic_size), "onnx", "has no fixed square size: give one (--size)")

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
bad = sum(e["error"] is not None for e in expected.values())
print(f"wrote {len(expected)} files ({bad} bad, each with its error) and expected.json to {out}")

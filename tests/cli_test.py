#!/usr/bin/python3
"""End-to-end tests of the googlenet command, with PyTorch as the judge where numbers matter.

Usage: cli_test.py GOOGLENET_BINARY   (CTest passes it; needs Debian's python3-torch and PIL)
Small runs: 32x32 images, a few hundred of them, so each training takes seconds.
"""
import os, re, signal, subprocess, sys, tempfile, time, unittest

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from make_fixtures import idx  # noqa: E402
from reference_googlenet import d2l_googlenet  # noqa: E402

BIN = None
DATA = "/usr/share/datasets/fashion-mnist"
SMALL = ["--resize", "32", "--train-limit", "256", "--test-limit", "128", "--batch-size", "64", "--threads", "2"]


def run(*args, ok=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600)
    if ok and p.returncode != 0:
        raise AssertionError(f"googlenet {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def read_safetensors(path):
    import json, struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, t = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:t], dtype=np.float32).copy()).reshape(e["shape"])
    return out


def set_tensor(path, name, value):
    """Sets every element of an F32 tensor of a safetensors file to `value`, in place."""
    import json, struct
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        e = json.loads(f.read(n))[name]
        b, t = e["data_offsets"]
        f.seek(8 + n + b)
        f.write(np.full((t - b) // 4, value, dtype=np.float32).tobytes())


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "run")
        cls.train = run("train", "--epochs", "2", "--out", cls.out, *SMALL)

    def test_train_prints_d2l_lines_and_writes_weights(self):
        lines = self.train.stdout.splitlines()
        epochs = [l for l in lines if l.startswith("epoch ")]
        self.assertEqual(len(epochs), 2, self.train.stdout)
        for l in epochs:
            self.assertRegex(l, r"^epoch \d+: loss [\d.]+, train acc [\d.]+, test acc [\d.]+, [\d.]+ img/s, [\d.]+ s$")
        self.assertRegex(self.train.stdout, r"\nloss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}\n")
        self.assertTrue(os.path.exists(os.path.join(self.out, "model.safetensors")))

    def test_eval_agrees_with_train_and_with_pytorch(self):
        acc = float(re.findall(r"test acc ([\d.]+)", self.train.stdout)[-2])  # epoch 2's line
        ev = run("eval", "--weights", os.path.join(self.out, "model.safetensors"), "--resize", "32",
                 "--test-limit", "128", "--batch-size", "64")
        m = re.match(r"test loss ([\d.]+), test acc ([\d.]+) \(128 images\)", ev.stdout)
        self.assertIsNotNone(m, ev.stdout)
        self.assertAlmostEqual(float(m.group(2)), acc, places=4)
        # PyTorch loads the file unchanged (strict) and gets the same loss on the same images.
        net = d2l_googlenet()
        net.load_state_dict(read_safetensors(os.path.join(self.out, "model.safetensors")), strict=True)
        net.eval()
        from PIL import Image
        images = idx(f"{DATA}/t10k-images-idx3-ubyte.gz")[:128]
        labels = torch.from_numpy(idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")[:128].astype(np.int64))
        x = np.stack([np.asarray(Image.fromarray(im).resize((32, 32), Image.BILINEAR)) for im in images])
        x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
        with torch.no_grad():
            logits = net(x)
        loss = F.cross_entropy(logits, labels).item()
        acc_torch = (logits.argmax(1) == labels).float().mean().item()
        self.assertAlmostEqual(float(m.group(1)), loss, delta=1e-3 * max(1.0, loss))
        self.assertAlmostEqual(float(m.group(2)), acc_torch, places=4)

    def test_curves_after_each_epoch_are_png_and_svg_and_plot_redraws_them(self):
        import xml.etree.ElementTree as ET
        from PIL import Image
        png, svg = os.path.join(self.out, "curves.png"), os.path.join(self.out, "curves.svg")
        with Image.open(png) as im:
            im.load()  # decodes every row, so a truncated file fails here
            self.assertEqual((im.format, im.size), ("PNG", (640, 440)))
            self.assertGreater(len(im.getcolors(1 << 16) or range(1 << 16)), 3)  # more than a blank canvas
        root = ET.parse(svg).getroot()
        self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg")
        self.assertEqual((root.get("width"), root.get("height")), ("640pt", "440pt"))
        with open(png, "rb") as f:
            before = f.read()
        os.remove(png)
        os.remove(svg)
        p = run("plot", self.out)
        self.assertIn("curves.png", p.stdout)
        with open(png, "rb") as f:
            self.assertEqual(f.read(), before)  # the same picture as training drew after its last epoch
        self.assertTrue(os.path.exists(svg))
        p = run("plot", self.tmp.name, ok=False)  # no metrics.jsonl there
        self.assertEqual(p.returncode, 1)
        self.assertIn("metrics.jsonl: cannot open", p.stderr)

    def test_eval_prints_per_class_accuracy_and_writes_the_confusion_matrix(self):
        from PIL import Image
        d = os.path.join(self.tmp.name, "confusion")
        os.makedirs(d)
        ev = run("eval", "--weights", os.path.join(self.out, "model.safetensors"), "--resize", "32",
                 "--test-limit", "128", "--batch-size", "64", "--out", d)
        acc = float(re.match(r"test loss [\d.]+, test acc ([\d.]+) \(128 images\)", ev.stdout).group(1))
        rows = re.findall(r"^(\S+(?: boot)?) +(\d+) +(\d+) +([\d.]+|-)$", ev.stdout, re.M)
        self.assertEqual([r[0] for r in rows], ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal",
                                                "shirt", "sneaker", "bag", "ankle boot"], ev.stdout)
        with open(os.path.join(d, "confusion.csv")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0].split(",")[1:], [r[0] for r in rows])
        matrix = np.array([[int(v) for v in l.split(",")[1:]] for l in lines[1:]])
        self.assertEqual(matrix.shape, (10, 10))
        self.assertEqual(matrix.sum(), 128)
        labels = idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")[:128]
        self.assertEqual(list(matrix.sum(1)), list(np.bincount(labels, minlength=10)))  # rows are true classes
        self.assertAlmostEqual(np.trace(matrix) / 128, acc, places=4)
        for k, (name, correct, total, class_acc) in enumerate(rows):
            self.assertEqual((int(correct), int(total)), (matrix[k, k], matrix[k].sum()), name)
            if total != "0":
                self.assertAlmostEqual(float(class_acc), matrix[k, k] / matrix[k].sum(), places=4)
        with Image.open(os.path.join(d, "confusion.png")) as im:
            im.load()
            self.assertEqual(im.size, (720, 680))
        with open(os.path.join(d, "confusion.svg")) as f:
            self.assertIn('width="720pt"', f.read())

    def test_a_users_model_file_trains_evaluates_and_resumes_without_the_file(self):
        import json
        variant = {"name": "tiny", "input": {"channels": 1, "size": 32}, "classes": 10, "body": [
            {"block": "stem", "layers": [{"conv": {"out": 16, "kernel": 3, "stride": 2, "pad": 1}}, "relu"]},
            {"block": "inception", "layers": [{"inception": [8, [8, 16], [4, 8], 8]}]},
            "global_avg_pool", "flatten", {"linear": {"out": "classes"}}]}
        path, d = os.path.join(self.tmp.name, "tiny.json"), os.path.join(self.tmp.name, "tiny-run")
        with open(path, "w") as f:
            json.dump(variant, f)
        out = run("summary", "--model", path).stdout
        self.assertIn("inception output shape: [1, 40, 16, 16]", out)
        self.assertIn("total: 3,022 parameters, 651,664 multiply-adds per 1x32x32 image", out)
        small = ["--train-limit", "256", "--test-limit", "64", "--batch-size", "64", "--threads", "2"]
        p = run("train", "--model", path, "--epochs", "1", "--out", d, *small)
        self.assertIn(f"training {path} on Fashion-MNIST", p.stdout)
        with open(f"{d}/config.json") as f:
            config = json.load(f)
        self.assertEqual((config["model"], config["resize"]), (path, 32))  # the model's own input size
        ev = run("eval", "--model", path, "--weights", f"{d}/model.safetensors", "--test-limit", "64", "--out", d)
        self.assertRegex(ev.stdout, r"test acc [\d.]+ \(64 images\)")
        wrong = run("eval", "--model", "d2l", "--weights", f"{d}/model.safetensors", "--test-limit", "64", ok=False)
        self.assertEqual(wrong.returncode, 1)
        self.assertIn(f"--model d2l does not match {d}/model.safetensors: the file was saved with model 'tiny' (kept in "
                      "it), and 'd2l' is another network", wrong.stderr)
        os.remove(path)  # the checkpoint and the weights file keep the model it was trained with
        again = run("eval", "--weights", f"{d}/model.safetensors", "--test-limit", "64", "--out", d)
        self.assertEqual(again.stdout.splitlines()[0], ev.stdout.splitlines()[0])
        p = run("train", "--resume", d, "--epochs", "2")
        self.assertIn("epoch 2: ", p.stdout)
        bad = os.path.join(self.tmp.name, "bad.json")
        with open(bad, "w") as f:
            f.write('{"name": "bad", "input": {"channels": 3, "size": 32}, "classes": 10, "body": '
                    '["global_avg_pool", {"linear": {"out": "classes"}}]}')
        p = run("train", "--model", bad, "--epochs", "1", "--out", d + "2", *small, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("takes 3-channel images into 10 classes; Fashion-MNIST has 1-channel images", p.stderr)

    def test_the_paper_network_trains_on_an_image_folder(self):
        import json, random
        from PIL import Image
        rng = random.Random(0)
        root = os.path.join(self.tmp.name, "folder")
        for split, n in (("train", 12), ("val", 4)):
            for cls, colour in (("blue", (30, 30, 200)), ("red", (200, 30, 30))):
                d = os.path.join(root, split, cls)
                os.makedirs(d)
                for i in range(n):
                    size = (rng.randint(40, 70), rng.randint(40, 70))
                    pixel = tuple(max(0, min(255, c + rng.randint(-40, 40))) for c in colour)
                    Image.new("RGB", size, pixel).save(os.path.join(d, f"{i}.{'png' if i % 2 else 'jpg'}"))
        broken = os.path.join(root, "train", "red", "broken.jpg")
        with open(broken, "wb") as f:
            f.write(b"\xff\xd8\xff not a picture")
        # The paper's network as a user adapts it: a copy of the model file with 2 classes.
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "paper.json")) as f:
            model = json.load(f)
        model["classes"] = 2
        path = os.path.join(self.tmp.name, "paper2.json")
        with open(path, "w") as f:
            json.dump(model, f)
        args = ["--train-folder", os.path.join(root, "train"), "--val-folder", os.path.join(root, "val"),
                "--resize", "96", "--batch-size", "8", "--lr", "0.03", "--momentum", "0.9", "--threads", "2"]
        p = run("train", "--model", path, "--epochs", "6", "--out", os.path.join(self.tmp.name, "folder-run"), *args)
        self.assertIn(f"skipping an unreadable image: {broken}: corrupt JPEG", p.stderr)
        losses = [float(l) for l in re.findall(r"^epoch \d+: loss ([\d.]+)", p.stdout, re.M)]
        self.assertEqual(len(losses), 6, p.stdout)
        self.assertLess(losses[-1], 0.6 * losses[0], p.stdout)  # measured: 1.05 -> 0.17
        p = run("train", "--model", path, "--epochs", "1", "--bad-images", "fail", "--out",
                os.path.join(self.tmp.name, "folder-fail"), *args, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{broken}: corrupt JPEG", p.stderr)
        p = run("train", "--model", "paper", "--epochs", "1", "--out", os.path.join(self.tmp.name, "folder-1000"), *args,
                ok=False)
        self.assertIn("has 2 classes but model 'paper' has 1000", p.stderr)
        # evaluate on the validation folder: accuracy, per-class table and confusion matrix by folder name
        weights = os.path.join(self.tmp.name, "folder-run", "model.safetensors")
        ev = run("eval", "--model", path, "--weights", weights, "--val-folder", os.path.join(root, "val"), "--resize", "96",
                 "--out", self.tmp.name)
        self.assertRegex(ev.stdout, r"test acc [\d.]+ \(8 images\)")
        self.assertRegex(ev.stdout, r"\nblue +\d+ +4 +[\d.]+\nred +\d+ +4 +[\d.]+\n")
        with open(os.path.join(self.tmp.name, "confusion.csv")) as f:
            self.assertEqual(f.readline().strip(), "true\\predicted,blue,red")
        # predict with the trained RGB model and its class names
        labels = os.path.join(self.tmp.name, "labels.txt")
        with open(labels, "w") as f:
            f.write("blue\nred\n")
        val = sorted(os.path.join(root, "val", c, n) for c in ("blue", "red") for n in os.listdir(os.path.join(root, "val", c)))
        weights = os.path.join(self.tmp.name, "folder-run", "model.safetensors")
        p = run("predict", "--model", path, "--weights", weights, "--labels", labels, "--resize", "96", "--json", *val)
        records = json.loads(p.stdout)["predictions"]
        self.assertEqual(len(records), 8)
        right = sum(r["top"][0]["class"] == os.path.basename(os.path.dirname(r["path"])) for r in records)
        self.assertGreaterEqual(right, 6, p.stdout)  # measured: 8 of 8
        with open(labels, "w") as f:
            f.write("blue\n")
        p = run("predict", "--model", path, "--weights", weights, "--labels", labels, val[0], ok=False)
        self.assertIn(f"--labels {labels}: 1 names for model 'paper', which has 2 classes", p.stderr)

    def test_same_seed_same_weights(self):
        a, b = os.path.join(self.tmp.name, "a"), os.path.join(self.tmp.name, "b")
        for d in (a, b):
            run("train", "--epochs", "1", "--seed", "5", "--out", d, *SMALL)
        with open(f"{a}/model.safetensors", "rb") as fa, open(f"{b}/model.safetensors", "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_init_continues_from_weights(self):
        d = os.path.join(self.tmp.name, "init")
        p = run("train", "--epochs", "1", "--init", os.path.join(self.out, "model.safetensors"), "--out", d, *SMALL)
        first = float(re.search(r"epoch 1: loss ([\d.]+)", p.stdout).group(1))
        fresh = float(re.search(r"epoch 1: loss ([\d.]+)", self.train.stdout).group(1))
        self.assertLess(first, fresh)  # it starts where the earlier run ended, not from scratch

    def test_bench_json_is_the_last_line(self):
        import json
        for mode in ("train", "infer"):
            p = run("bench", "--mode", mode, "--batch-size", "2", "--size", "32", "--warmup", "0", "--iters", "1",
                    "--threads", "2", "--json")
            r = json.loads(p.stdout.strip().splitlines()[-1])
            self.assertEqual((r["mode"], r["batch_size"], r["size"], r["threads"]), (mode, 2, 32, 2))
            for key in ("images_per_sec", "ms_per_iter", "gflops", "peak_rss_mib", "activations_mib", "parameters_mib"):
                self.assertGreater(r[key], 0, key)
            # D2L's 5,977,530 parameters and as many gradients, in float32.
            self.assertAlmostEqual(r["parameters_mib"], 2 * 5977530 * 4 / 2**20, delta=0.1)
            self.assertLess(r["activations_mib"] + r["gradients_mib"] + r["parameters_mib"], r["peak_rss_mib"])
            self.assertAlmostEqual(r["images_per_sec"], 2 / (r["ms_per_iter"] / 1000), delta=0.01 * r["images_per_sec"])

    def test_bench_int8(self):
        """bench --precision int8 calibrates on its random images and runs every convolution but the stem in
        int8; training in int8, and int8 on the other commands, are refused by name."""
        import json
        p = run("bench", "--mode", "infer", "--batch-size", "4", "--warmup", "0", "--iters", "1", "--threads", "2",
                "--precision", "int8", "--profile", "--json")
        r = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(r["precision"], "int8")
        convs = [o for o in r["ops"] if o["kind"].startswith("conv")]
        self.assertEqual(sum(o["kernels"].startswith("int8 ") for o in convs), len(convs) - 1, convs)
        p = run("bench", "--mode", "train", "--batch-size", "2", "--iters", "1", "--precision", "int8", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("inference only", p.stderr)
        p = run("train", "--precision", "int8", "--epochs", "1", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--precision", p.stderr)

    def test_bench_profile_times_every_op(self):
        import json
        # D2L's ops once its ReLUs are fused into the convolutions: the stem's 3, b2's 3, and per
        # Inception block four paths of 1-2 convolutions and a pool, and the concatenation.
        kinds = {"conv 7x7": 1, "conv 1x1": 37, "conv 3x3": 10, "conv 5x5": 9, "max pool": 13, "concat": 9,
                 "avg pool": 1, "linear": 1}
        for mode, batch, parallel, split, side_by_side in (("train", 16, "batch", True, False),
                                                          ("train", 4, "ops", False, False),
                                                          ("infer", 1, "batch", False, True)):
            p = run("bench", "--mode", mode, "--batch-size", str(batch), "--warmup", "1", "--iters", "2",
                    "--threads", "2", "--parallel", parallel, "--profile", "--json")
            r = json.loads(p.stdout.strip().splitlines()[-1])
            where = f"{mode} batch {batch} --parallel {parallel}"
            self.assertEqual((r["batch_split"], r["paths_side_by_side"]), (split, side_by_side), where)
            ops = r["ops"]
            self.assertEqual({k: sum(o["kind"] == k for o in ops) for k in kinds}, kinds, where)
            self.assertEqual(len(ops), sum(kinds.values()), where)
            self.assertIn("conv+relu 3x3/1 96->128 (2.0.p2_2)", [o["op"] for o in ops])
            for o in ops:
                self.assertGreater(o["forward_ms"], 0, (where, o))
                has_params = o["kind"].startswith("conv") or o["kind"] == "linear"
                if mode == "infer" or not has_params:
                    self.assertEqual(o["backward_weights_ms"], 0, (where, o))
                else:
                    self.assertGreater(o["backward_weights_ms"], 0, (where, o))
                if mode == "infer":
                    self.assertEqual(o["backward_data_ms"], 0, (where, o))
                if o["kind"].startswith("conv"):
                    self.assertEqual(len(o["kernels"].split(" | ")), 3, (where, o))
            # Every op runs inside the iteration, on one thread at a time unless the paths run side by side.
            total = sum(o["forward_ms"] + o["backward_data_ms"] + o["backward_weights_ms"] for o in ops)
            if not side_by_side:
                self.assertLessEqual(total, r["ms_mean"] * 1.0001, where)
            self.assertIn("by kind of op", p.stderr)  # for people: on stderr under --json

    @staticmethod
    def resumable_args():
        return ["--resize", "32", "--train-limit", "640", "--test-limit", "64", "--batch-size", "32", "--threads", "2",
                "--epochs", "2", "--momentum", "0.9", "--weight-decay", "1e-4", "--lr", "0.05",
                "--lr-schedule", "cosine", "--warmup-epochs", "0.5", "--seed", "11", "--log-every", "1"]

    def test_bench_profile_warns_about_slow_ops(self):
        """torchvision's auxiliary heads' linear layers read a blocked 128x4x4 map: not through a reference kernel."""
        import json
        p = run("bench", "--model", "torchvision", "--size", "224", "--mode", "train", "--batch-size", "4", "--threads", "2",
                "--warmup", "1", "--iters", "1", "--profile", "--json")
        r = json.loads(p.stdout.splitlines()[-1])
        heads = [o for o in r["ops"] if o["op"].startswith("linear 2048->1024")]
        self.assertEqual(len(heads), 2, [o["op"] for o in r["ops"]])
        for o in heads:  # which kernel runs, not how fast: timings are no test
            self.assertNotIn("ref", o["kernels"], o)
            self.assertGreater(o["gflops"], 0)
        self.assertIsInstance(r["slow_ops"], list)

    def interrupted_run_matches(self, sig, extra, base=None):
        """Trains once straight through and once stopped by `sig` and resumed; the same weights."""
        args = [*(base or self.resumable_args()), *extra]
        where = tempfile.mkdtemp(dir=self.tmp.name)  # each call its own folders: metrics.jsonl is watched below
        straight = os.path.join(where, "straight")
        run("train", "--out", straight, *args)
        stopped = os.path.join(where, "stopped")
        p = subprocess.Popen([BIN, "train", "--out", stopped, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        metrics = os.path.join(stopped, "metrics.jsonl")
        deadline = time.time() + 300
        while time.time() < deadline:  # wait until it is well into epoch 1
            if os.path.exists(metrics) and sum(1 for _ in open(metrics)) >= 8:
                break
            time.sleep(0.05)
        p.send_signal(sig)
        out, err = p.communicate(timeout=300)
        if sig == signal.SIGINT:
            self.assertEqual(p.returncode, 130, out + err)
            self.assertRegex(err, r"stopped at epoch 1, batch \d+ \(step \d+\); checkpoint written to")
        else:
            self.assertEqual(p.returncode, -signal.SIGKILL)
        resumed = run("train", "--resume", stopped)
        self.assertIn("resuming at epoch ", resumed.stdout)
        with open(f"{straight}/model.safetensors", "rb") as a, open(f"{stopped}/model.safetensors", "rb") as b:
            self.assertTrue(a.read() == b.read(), "resumed run ended with different weights")
        # Every step's loss is recorded once, and equals the uninterrupted run's.
        import json
        def losses(d):
            return [(r["step"], r["loss"]) for r in map(json.loads, open(f"{d}/metrics.jsonl")) if r["type"] == "step"]
        self.assertEqual(losses(straight), losses(stopped))
        self.assertEqual([s for s, _ in losses(straight)], list(range(1, len(losses(straight)) + 1)))  # --log-every 1
        self.assertGreater(len(losses(straight)), 8)
        return straight, stopped

    def test_sigint_mid_epoch_then_resume_gives_the_same_weights(self):
        self.interrupted_run_matches(signal.SIGINT, [])

    def test_resume_in_bf16_gives_the_same_weights(self):
        """Mixed precision resumes bit-exactly too (oneDNN's bf16 kernels sum in a fixed order on one machine)."""
        straight, _ = self.interrupted_run_matches(signal.SIGINT, ["--precision", "bf16"])
        import json
        with open(os.path.join(straight, "config.json")) as f:
            self.assertEqual(json.load(f)["precision"], "bf16")

    def test_resume_with_the_original_flags_repeated(self):
        """The command that started a run, with --resume added, continues it (flags equal to the run's)."""
        d = os.path.join(self.tmp.name, "repeat")
        args = ["--out", d, "--epochs", "1", "--momentum", "0.9", "--lr-schedule", "cosine", *SMALL]
        run("train", *args)
        p = run("train", "--resume", d, *args, ok=False)  # the same command: the run is over
        self.assertIn("already finished its 1 epochs", p.stderr)
        # the folder named another way, more epochs, and the flags that may change
        p = run("train", "--resume", d, *[a if a != d else d + "/." for a in args], "--epochs", "2", "--log-every", "1",
                "--checkpoint-every", "2", "--quiet", "--threads", "1")
        self.assertIn("epoch 2: ", p.stdout)
        import json
        steps = [r for r in map(json.loads, open(f"{d}/metrics.jsonl")) if r["type"] == "step"]
        self.assertEqual([r["step"] for r in steps], [5, 6, 7, 8])  # --log-every 1 from the resumed epoch on
        p = run("train", "--resume", d, "--epochs", "3", "--out", d + "-elsewhere", ok=False)
        self.assertIn(f"--out \"{d}-elsewhere\" (the run's: \"{d}\")", p.stderr)

    def test_resume_of_a_net_with_dropout_gives_the_same_weights(self):
        import json
        # Channel counts on whole blocks: others fall back to NCHW, where oneDNN's kernels are slow.
        variant = {"name": "tiny-dropout", "input": {"channels": 1, "size": 32}, "classes": 10, "body": [
            {"conv": {"out": 16, "kernel": 3, "stride": 2, "pad": 1}}, "relu",
            {"inception": [16, [16, 16], [16, 16], 16]}, "global_avg_pool", "flatten", {"dropout": {"p": 0.4}},
            {"linear": {"out": "classes"}}]}
        path = os.path.join(self.tmp.name, "tiny-dropout.json")
        with open(path, "w") as f:
            json.dump(variant, f)
        # 96x96, so that a step takes long enough for the signal to land mid-run
        self.interrupted_run_matches(signal.SIGINT, ["--model", path, "--resize", "96"])

    def test_resume_on_an_image_folder_with_augmentation_gives_the_same_weights(self):
        """Random crops and flips are drawn by (seed, epoch, image): a resumed run draws the same ones."""
        import json, random
        from PIL import Image
        rng = random.Random(1)
        root = os.path.join(self.tmp.name, "aug-folder")
        for split, n in (("train", 48), ("val", 8)):
            for cls in ("dark", "light"):
                os.makedirs(os.path.join(root, split, cls))
                for i in range(n):
                    base = 60 if cls == "dark" else 190
                    im = Image.new("RGB", (rng.randint(36, 60), rng.randint(36, 60)))
                    im.putdata([tuple(max(0, min(255, base + rng.randint(-60, 60))) for _ in range(3))
                                for _ in range(im.size[0] * im.size[1])])
                    im.save(os.path.join(root, split, cls, f"{i}.png"))
        variant = {"name": "tiny-rgb", "input": {"channels": 3, "size": 32}, "classes": 2, "body": [
            {"conv": {"out": 16, "kernel": 3, "stride": 2, "pad": 1}}, "relu",
            {"inception": [16, [16, 16], [16, 16], 16]}, "global_avg_pool", "flatten", {"linear": {"out": "classes"}}]}
        path = os.path.join(self.tmp.name, "tiny-rgb.json")
        with open(path, "w") as f:
            json.dump(variant, f)
        base = ["--model", path, "--train-folder", os.path.join(root, "train"), "--val-folder", os.path.join(root, "val"),
                "--batch-size", "4", "--epochs", "2", "--threads", "2", "--lr", "0.05", "--momentum", "0.9", "--seed", "4",
                "--log-every", "1", "--resize", "128"]
        self.interrupted_run_matches(signal.SIGINT, [], base)

    def test_nan_right_after_resume_leaves_the_weights_file_intact(self):
        d = os.path.join(self.tmp.name, "nan-resume")
        run("train", "--epochs", "1", "--out", d, *SMALL)
        ckpt = f"{d}/checkpoint.safetensors"
        set_tensor(ckpt, "5.weight", 3e38)  # finite, but the logits overflow
        with open(f"{d}/model.safetensors", "rb") as f:
            before = f.read()
        p = run("train", "--resume", d, "--epochs", "2", ok=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r"loss is (nan|inf) at epoch 2, batch 1 \(step 5\): training stopped; it is the first "
                                   r"step of this resumed run")
        with open(f"{d}/model.safetensors", "rb") as f:
            self.assertEqual(f.read(), before)

    def test_nan_restores_batch_norm_statistics_of_the_last_good_step(self):
        import json
        variant = {"name": "tiny-bn", "input": {"channels": 1, "size": 32}, "classes": 10, "body": [
            {"conv_bn": {"out": 16, "kernel": 3, "stride": 2, "pad": 1}}, "global_avg_pool", "flatten",
            {"linear": {"out": "classes"}}]}
        path = os.path.join(self.tmp.name, "tiny-bn.json")
        with open(path, "w") as f:
            json.dump(variant, f)
        d = os.path.join(self.tmp.name, "nan-bn")
        p = run("train", "--model", path, "--epochs", "3", "--lr", "1e38", "--out", d, *SMALL, ok=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r"loss is (nan|inf) at epoch \d+, batch \d+ \(step ([2-9]|\d\d+)\)")
        for name, t in read_safetensors(f"{d}/model.safetensors").items():
            self.assertTrue(torch.isfinite(t).all(), name)

    def test_sigkill_between_checkpoints_then_resume_gives_the_same_weights(self):
        self.interrupted_run_matches(signal.SIGKILL, ["--checkpoint-every", "5"])

    def test_resume_rejects_other_settings_and_corrupt_checkpoints(self):
        p = run("train", "--resume", self.out, "--lr", "0.5", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("this setting differs from the run's", p.stderr)
        self.assertIn("--lr 0.5 (the run's: 0.1)", p.stderr)
        p = run("train", "--resume", self.out, "--momentum", "0.9", "--seed", "3", *SMALL, ok=False)
        self.assertIn("these settings differ from the run's", p.stderr)
        self.assertIn("--momentum 0.9 (the run's: 0.0); --seed 3 (the run's: 0)", p.stderr)
        p = run("train", "--resume", self.out, ok=False)
        self.assertIn("already finished its 2 epochs", p.stderr)
        broken = os.path.join(self.tmp.name, "broken")
        os.makedirs(broken)
        with open(f"{self.out}/checkpoint.safetensors", "rb") as f:
            data = f.read()
        with open(f"{broken}/checkpoint.safetensors", "wb") as f:
            f.write(data[: len(data) // 3])
        p = run("train", "--resume", broken, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("checkpoint.safetensors: tensor", p.stderr)

    def test_metrics_file_matches_the_printed_run(self):
        import json
        records = [json.loads(l) for l in open(os.path.join(self.out, "metrics.jsonl"))]
        epochs = [r for r in records if r["type"] == "epoch"]
        self.assertEqual([r["epoch"] for r in epochs], [1, 2])
        printed = re.findall(r"epoch (\d+): loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+)", self.train.stdout)
        for r, (e, loss, tacc, vacc) in zip(epochs, printed):
            self.assertEqual(r["epoch"], int(e))
            self.assertAlmostEqual(r["train_loss"], float(loss), places=4)
            self.assertAlmostEqual(r["train_acc"], float(tacc), places=4)
            self.assertAlmostEqual(r["test_acc"], float(vacc), places=4)
            for key in ("step", "test_loss", "lr", "img_per_sec", "wall_time"):
                self.assertIn(key, r)
        steps = [r for r in records if r["type"] == "step"]
        self.assertEqual(steps, [])  # 4 batches x 2 epochs = 8 steps, a record every 50 (--log-every's default)

    def test_summary_walks_the_blocks_as_d2l(self):
        out = run("summary").stdout
        for block, shape in [("b1", "[1, 64, 24, 24]"), ("b2", "[1, 192, 12, 12]"), ("b3", "[1, 480, 6, 6]"),
                             ("b4", "[1, 832, 3, 3]"), ("b5", "[1, 1024, 1, 1]")]:
            self.assertIn(f"{block} output shape: {shape}\n", out)
        self.assertIn("total: 5,977,530 parameters, 276,066,304 multiply-adds per 1x96x96 image", out)
        self.assertIn("b1 output shape: [1, 64, 56, 56]", run("summary", "--size", "224").stdout)

    def test_predict_matches_pytorch_and_survives_bad_images(self):
        import json
        from PIL import Image
        images = idx(f"{DATA}/t10k-images-idx3-ubyte.gz")[:3]
        d = os.path.join(self.tmp.name, "images")
        os.makedirs(d, exist_ok=True)
        paths = [f"{d}/grey.png", f"{d}/colour.png", f"{d}/big.png", f"{d}/grey.jpg"]
        Image.fromarray(images[0]).save(paths[0])
        Image.fromarray(images[1]).convert("RGBA").save(paths[1])
        Image.fromarray(images[2]).resize((70, 70), Image.BILINEAR).convert("RGB").save(paths[2])
        Image.fromarray(images[0]).save(paths[3], quality=90)
        broken = [f"{d}/truncated.png", f"{d}/junk.jpg"]
        with open(paths[0], "rb") as f, open(broken[0], "wb") as g:
            g.write(f.read()[:60])
        with open(broken[1], "wb") as g:
            g.write(b"\xff\xd8\xff not really a jpeg")
        weights = os.path.join(self.out, "model.safetensors")
        p = run("predict", "--weights", weights, "--resize", "32", "--top", "10", "--json", *paths, *broken, ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        records = {r["path"]: r for r in json.loads(p.stdout)["predictions"]}
        self.assertIn("corrupt PNG", records[broken[0]]["error"])
        self.assertIn("corrupt JPEG", records[broken[1]]["error"])
        self.assertIn(f"{broken[0]}: corrupt PNG", p.stderr)
        # The same images through PIL and PyTorch, as a user of the PyTorch model would prepare them.
        net = d2l_googlenet()
        net.load_state_dict(read_safetensors(weights), strict=True)
        net.eval()
        for path in paths:
            im = Image.open(path).convert("L")
            if im.size != (28, 28):
                im = im.resize((28, 28), Image.BILINEAR)
            x = torch.from_numpy(np.asarray(im.resize((32, 32), Image.BILINEAR)).astype(np.float32) / 255.0)
            with torch.no_grad():
                prob = torch.softmax(net(x.reshape(1, 1, 32, 32)), 1)[0]
            ours = {t["index"]: t["probability"] for t in records[path]["top"]}
            self.assertEqual(len(ours), 10)
            for k in range(10):
                self.assertAlmostEqual(ours[k], prob[k].item(), delta=1e-4, msg=f"{path} class {k}")

    def test_fewer_openmp_threads_than_asked_run_on_those_granted(self):
        """OMP_THREAD_LIMIT below --threads: the run takes the threads it may have and says so; no crash or hang."""
        weights = os.path.join(self.out, "model.safetensors")
        limited = dict(os.environ, OMP_THREAD_LIMIT="1")
        def limited_run(*args):
            p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, env=limited)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            return p
        ev = ["eval", "--weights", weights, "--resize", "32", "--test-limit", "128", "--batch-size", "64"]
        two = limited_run(*ev, "--threads", "2")
        self.assertIn("--threads 2, but OpenMP allows 1 (OMP_THREAD_LIMIT): running on 1", two.stderr)
        self.assertEqual(two.stdout, run(*ev, "--threads", "1").stdout)
        import json
        for batch in ("1", "64"):  # the paths side by side (batch 1) and the batch split
            p = limited_run("bench", "--mode", "infer", "--batch-size", batch, "--size", "32", "--threads", "2", "--iters",
                            "1", "--warmup", "0", "--json")
            self.assertEqual(json.loads(p.stdout.splitlines()[-1])["threads"], 1)  # what it ran on
        limited_run("bench", "--mode", "train", "--batch-size", "32", "--size", "32", "--threads", "2", "--iters", "1",
                    "--warmup", "0")
        a, b = os.path.join(self.tmp.name, "limit-a"), os.path.join(self.tmp.name, "limit-b")
        limited_run("train", "--epochs", "1", "--out", a, *SMALL)  # SMALL asks for 2 threads
        run("train", "--epochs", "1", "--out", b, *SMALL, "--threads", "1")
        with open(f"{a}/model.safetensors", "rb") as fa, open(f"{b}/model.safetensors", "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_a_flag_given_twice_takes_the_last_value(self):
        p = run("summary", "--size", "64", "--size", "96")
        self.assertIn("per 1x96x96 image", p.stdout)

    def test_bad_flag_is_named(self):
        p = run("train", "--epochz", "3", ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--epochz", p.stderr)
        p = run("train", "--batch-size", "0", ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--batch-size", p.stderr)

    def test_missing_data_names_the_file(self):
        p = run("train", "--data-dir", "/nonexistent", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/train-images-idx3-ubyte.gz: cannot open", p.stderr)

    def test_wrong_weights_name_the_tensor(self):
        bad = os.path.join(self.tmp.name, "bad.safetensors")
        with open(bad, "wb") as f:
            import json, struct
            h = json.dumps({"0.0.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
            f.write(struct.pack("<Q", len(h)) + h + b"\0\0\0\0")
        p = run("eval", "--weights", bad, ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("tensor '0.0.weight' has shape [1], the model needs [64, 1, 7, 7]", p.stderr)

    def test_diverging_loss_stops_and_keeps_finite_weights(self):
        d = os.path.join(self.tmp.name, "nan")
        p = run("train", "--epochs", "3", "--lr", "1e20", "--out", d, *SMALL, ok=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r"loss is (nan|inf|-inf) at epoch \d+, batch \d+ \(step \d+\): training stopped")
        ev = run("eval", "--weights", f"{d}/model.safetensors", "--resize", "32", "--test-limit", "64")
        loss = float(re.match(r"test loss (\S+),", ev.stdout).group(1))
        self.assertTrue(np.isfinite(loss), ev.stdout)


class Scripts(unittest.TestCase):
    """The set-up scripts' own logic, on stand-ins for what they call."""

    ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

    def test_quickstart_passes_the_users_out_or_its_own(self):
        import shutil
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(f"{tmp}/scripts")
            os.makedirs(f"{tmp}/build")
            shutil.copy(f"{self.ROOT}/scripts/quickstart.sh", f"{tmp}/scripts/")
            with open(f"{tmp}/scripts/setup.sh", "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            with open(f"{tmp}/build/googlenet", "w") as f:
                f.write('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
            for p in (f"{tmp}/scripts/setup.sh", f"{tmp}/build/googlenet"):
                os.chmod(p, 0o755)
            env = {k: v for k, v in os.environ.items() if k != "BUILD_DIR"}
            def args(*a):
                p = subprocess.run([f"{tmp}/scripts/quickstart.sh", *a], capture_output=True, text=True, env=env, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                return p.stdout.splitlines()
            self.assertEqual(args("--epochs", "2"), ["train", "--out", f"{tmp}/runs/d2l", "--epochs", "2"])
            self.assertEqual(args("--out", "mine"), ["train", "--out", "mine"])
            self.assertEqual(args("--out=mine"), ["train", "--out=mine"])
            self.assertEqual(args("-o", "mine"), ["train", "-o", "mine"])
            self.assertEqual(args("-omine"), ["train", "-omine"])
            self.assertEqual(args("--resume", "runs/x"), ["train", "--resume", "runs/x"])

    def test_unpack_wheel_data_refuses_paths_outside_the_prefix(self):
        import zipfile
        with tempfile.TemporaryDirectory() as tmp:
            for member in ("x.data/data/../../escaped", "x.data/data/lib//etc/passwd", "x.data/data/lib/./a"):
                wheel = f"{tmp}/bad.whl"
                with zipfile.ZipFile(wheel, "w") as z:
                    z.writestr("x.data/data/include/ok.h", "ok")
                    z.writestr(member, "bad")
                p = subprocess.run(["/usr/bin/python3", f"{self.ROOT}/tools/unpack_wheel_data.py", f"{tmp}/prefix", wheel],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 1, member)
                self.assertIn(f"refusing member '{member}'", p.stderr)
                self.assertFalse(os.path.exists(f"{tmp}/escaped"))
            with zipfile.ZipFile(wheel, "w") as z:
                z.writestr("x.data/data/include/ok.h", "ok")
            subprocess.run(["/usr/bin/python3", f"{self.ROOT}/tools/unpack_wheel_data.py", f"{tmp}/good", wheel], check=True)
            with open(f"{tmp}/good/include/ok.h") as f:
                self.assertEqual(f.read(), "ok")

    def test_every_ctest_test_has_a_timeout_and_fuzzing_is_seeded(self):
        import json
        build = os.path.dirname(BIN)
        p = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build, capture_output=True, text=True, check=True)
        tests = json.loads(p.stdout)["tests"]
        self.assertGreater(len(tests), 20)
        for t in tests:
            timeouts = [q["value"] for q in t.get("properties", []) if q["name"] == "TIMEOUT"]
            self.assertTrue(timeouts and 0 < timeouts[0] <= 2400, f"{t['name']} has no timeout")
        with open(f"{self.ROOT}/scripts/fuzz.sh") as f:
            self.assertIn('-seed="$seed"', f.read())

    def test_setup_pins_the_onednn_wheels_by_hash(self):
        with open(f"{self.ROOT}/scripts/setup.sh") as f:
            setup = f.read()
        version = re.search(r"^ONEDNN_VERSION=(\S+)$", setup, re.M).group(1)
        with open(f"{self.ROOT}/scripts/onednn-requirements.txt") as f:
            pins = [l.split() for l in f if l.strip() and not l.startswith("#")]
        self.assertEqual(sorted(p[0] for p in pins), [f"onednn-cpu-gomp=={version}", f"onednn-devel-cpu-gomp=={version}"])
        for p in pins:
            self.assertRegex(p[1], r"^--hash=sha256:[0-9a-f]{64}$")
        self.assertIn("--require-hashes", setup)
        self.assertIn('rm -rf "$onednn_prefix.tmp"', setup)


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)

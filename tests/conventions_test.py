#!/usr/bin/python3
"""The command line's conventions (docs/usage.md, "Conventions"): files that know their model, exit
statuses, --json documents, config files, short flags, --version, bench statistics, the man page
and bash completion.

Usage: conventions_test.py GOOGLENET_BINARY   (CTest passes it; the build folder holds the man page)
Small runs: 32x32 images, a few hundred of them, so each training takes seconds.
"""
import json, os, signal, subprocess, sys, tempfile, unittest

BIN = None
SMALL = ["--resize", "32", "--train-limit", "256", "--test-limit", "128", "--batch-size", "64", "--threads", "2"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ABOUT = {"version", "commit", "onednn_version", "onednn_isa", "cpu", "mpi"}


def run(*args, ok=True, env=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600, env=env)
    if ok and p.returncode != 0:
        raise AssertionError(f"googlenet {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def metadata(path):
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})


class Conventions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        # A model file of 16-channel blocks (whole oneDNN channel blocks: fast kernels at 32x32).
        cls.model = os.path.join(cls.tmp.name, "small.json")
        with open(cls.model, "w") as f:
            json.dump({"name": "small", "input": {"channels": 1, "size": 32}, "classes": 10, "body": [
                {"block": "stem", "layers": [{"conv": {"out": 16, "kernel": 3, "stride": 2, "pad": 1}}, "relu"]},
                {"block": "inception", "layers": [{"inception": [16, [16, 16], [16, 16], 16]}]},
                "global_avg_pool", "flatten", {"linear": {"out": "classes"}}]}, f)
        cls.run_dir = os.path.join(cls.tmp.name, "run")
        cls.train = run("train", "--model", cls.model, "-e", "2", "-o", cls.run_dir, "--json", "--seed", "5",
                        "--lr", "0.05", *SMALL)
        cls.weights = os.path.join(cls.run_dir, "model.safetensors")

    def test_weights_know_their_model(self):
        meta = metadata(self.weights)
        self.assertEqual(meta["format"], "pt")
        self.assertEqual(meta["googlenet.format_version"], "1")
        self.assertEqual(json.loads(meta["googlenet.model"])["name"], "small")
        self.assertTrue(all(isinstance(v, str) for v in meta.values()))  # safetensors' rule, which PyTorch's reader keeps
        moved = os.path.join(self.tmp.name, "moved.json")  # the model file may be gone: the weights keep it
        os.rename(self.model, moved)
        try:
            ev = run("eval", "-w", self.weights, "--test-limit", "64", "--json")
            self.assertEqual(json.loads(ev.stdout)["model"], "small")
            x = os.path.join(self.tmp.name, "x.safetensors")
            self.write_input(x)
            pr = json.loads(run("predict", "-w", self.weights, "--tensor", x, "--json").stdout)
            self.assertEqual((pr["model"], len(pr["predictions"])), ("small", 2))
            onnx = os.path.join(self.tmp.name, "small.onnx")
            self.assertIn("model 'small', input N x 1 x 32 x 32", run("export", "-w", self.weights, "--onnx", onnx).stdout)
            for command in (["eval", "--test-limit", "64"], ["export", "--onnx", onnx], ["predict", "--tensor", x]):
                p = run(command[0], "-w", self.weights, "--model", "d2l", *command[1:], ok=False)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(f"--model d2l does not match {self.weights}: the file was saved with model 'small'", p.stderr)
            self.assertEqual(run("eval", "-w", self.weights, "--model", moved, "--test-limit", "64").returncode, 0)
        finally:
            os.rename(moved, self.model)

    @staticmethod
    def write_input(path):
        import struct
        import numpy as np
        x = np.random.default_rng(0).random((2, 1, 32, 32), dtype=np.float32)
        h = json.dumps({"input": {"dtype": "F32", "shape": list(x.shape), "data_offsets": [0, x.nbytes]}}).encode()
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + x.tobytes())

    def test_exit_statuses(self):
        usage = [[], ["--bogus"], ["train", "--bogus"], ["bench", "--mode", "foo"], ["train", "--batch-size", "0"],
                 ["eval"], ["eval", "-w", "/nonexistent.safetensors"], ["predict", "-w", self.weights],
                 ["predict", "-w", self.weights, "--logits", "x.png"], ["bench", "--iters", "2", "--time", "1"],
                 ["train", "--quiet", "--progress", "bar"], ["train", "--config", "/nonexistent.toml"],
                 ["bench", "--layout", "nhcw"], ["bench", "--winograd-max-tile", "5"], ["eval", "--parallel", "both"]]
        for args in usage:
            p = run(*args, ok=False)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("--help", p.stderr, args)
        runtime = [["train", "--data-dir", "/nonexistent", *SMALL], ["eval", "-w", os.path.join(self.run_dir, "config.json")],
                   ["summary", "--model", "/nonexistent.json"]]
        for args in runtime:
            p = run(*args, ok=False)
            self.assertEqual(p.returncode, 1, (args, p.stderr))
            self.assertIn("googlenet: error: ", p.stderr, args)
        for args in (["--help"], ["train", "--help"], ["bench", "--help"]):
            p = run(*args)
            self.assertIn("Exit status: 0 success; 1 runtime error", p.stdout)
            self.assertIn("2 usage error", p.stdout)
            self.assertIn("130 interrupted", p.stdout)

    def test_sigint_outside_training_ends_with_130(self):
        p = subprocess.Popen([BIN, "bench", "--iters", "100000", "--batch-size", "1", "--threads", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        import time
        time.sleep(2)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130)

    def test_sigterm_stops_training_with_a_checkpoint_and_143(self):
        import time
        d = os.path.join(self.tmp.name, "terminated")
        p = subprocess.Popen([BIN, "train", "-e", "50", "-o", d, "--log-every", "1", *SMALL], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        metrics, deadline = os.path.join(d, "metrics.jsonl"), time.time() + 120
        while time.time() < deadline and not (os.path.exists(metrics) and sum(1 for _ in open(metrics)) >= 2):
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 143, err)
        self.assertRegex(err, r"stopped at epoch \d+, batch \d+ \(step \d+\); checkpoint written to")
        self.assertTrue(os.path.exists(os.path.join(d, "checkpoint.safetensors")))

    def test_train_json_lines(self):
        records = [json.loads(l) for l in self.train.stdout.splitlines()]  # every line parses
        self.assertEqual([r["type"] for r in records], ["start", "epoch", "epoch", "summary"])
        start, summary = records[0], records[-1]
        self.assertEqual(set(start["googlenet"]), ABOUT)
        self.assertEqual((start["config"]["model"], start["config"]["epochs"], start["config"]["seed"]), (self.model, 2, 5))
        with open(os.path.join(self.run_dir, "metrics.jsonl")) as f:
            epochs = [r for r in map(json.loads, f) if r["type"] == "epoch"]
        self.assertEqual(records[1:3], epochs)  # the same records as metrics.jsonl's
        self.assertEqual((summary["epochs"], summary["test_acc"], summary["weights"]), (2, epochs[-1]["test_acc"], self.weights))
        # For people, on stderr: the lines that go to stdout without --json.
        self.assertIn("epoch 2: loss ", self.train.stderr)
        self.assertIn("weights: ", self.train.stderr)

    def test_progress_goes_to_stderr_as_asked(self):
        d = os.path.join(self.tmp.name, "progress")
        p = run("train", "-e", "1", "-o", d, "--log-every", "1", *SMALL)  # not a terminal: plain lines, on stderr
        self.assertRegex(p.stderr, r"epoch 1/1 batch 1/4: loss [\d.]+")
        self.assertNotIn("batch 1/4", p.stdout)
        self.assertIn("epoch 1: loss ", p.stdout)
        p = run("train", "-e", "1", "-o", d, "--log-every", "1", "--progress", "bar", *SMALL)
        self.assertIn("\033[Kepoch 1/1 [", p.stderr)  # redrawn in place (text mode reads its carriage return as a new line)
        p = run("train", "-e", "1", "-o", d, "--log-every", "1", "--progress", "none", *SMALL)
        self.assertEqual(p.stderr, "")

    def test_every_json_is_one_document(self):
        x = os.path.join(self.tmp.name, "y.safetensors")
        self.write_input(x)
        outputs = {
            "eval": run("eval", "-w", self.weights, "--test-limit", "64", "--json", "-o", self.tmp.name),
            "predict": run("predict", "-w", self.weights, "--tensor", x, "--json", "--logits", "--top", "2"),
            "bench": run("bench", "--mode", "infer", "-b", "2", "--size", "32", "--iters", "2", "--warmup", "0",
                         "--threads", "2", "--json", "--profile"),
            "summary": run("summary", "--model", self.model, "--json"),
        }
        for name, p in outputs.items():
            doc = json.loads(p.stdout)  # the whole of stdout
            self.assertEqual(set(doc["googlenet"]), ABOUT, name)
        ev = json.loads(outputs["eval"].stdout)
        self.assertEqual((ev["images"], len(ev["classes"]), len(ev["confusion"])), (64, 10, 10))
        self.assertEqual(sum(map(sum, ev["confusion"])), 64)
        self.assertAlmostEqual(ev["test_acc"], sum(ev["confusion"][k][k] for k in range(10)) / 64)
        self.assertIn("test loss", outputs["eval"].stderr)
        pr = json.loads(outputs["predict"].stdout)["predictions"]
        self.assertEqual([(len(r["top"]), len(r["logits"])) for r in pr], [(2, 10), (2, 10)])
        sm = json.loads(outputs["summary"].stdout)
        self.assertEqual((sm["model"], sm["input"], sm["classes"]), ("small", [1, 32, 32], 10))
        self.assertEqual(sm["parameters"], sum(l["parameters"] for l in sm["layers"]))
        self.assertEqual([l["block"] for l in sm["layers"] if "block" in l], ["stem", "inception"])
        self.assertEqual(json.loads(run("summary", "--json").stdout)["parameters"], 5977530)  # D2L's

    def test_a_config_file_repeats_a_run(self):
        again = os.path.join(self.tmp.name, "again")
        run("train", "--config", os.path.join(self.run_dir, "config.json"), "-o", again, "--quiet")
        with open(os.path.join(self.run_dir, "config.json")) as f, open(os.path.join(again, "config.json")) as g:
            first, second = json.load(f), json.load(g)
        self.assertEqual(second.pop("out_dir"), again)  # the flag wins over the file
        first.pop("out_dir")
        self.assertEqual(first, second)
        with open(self.weights, "rb") as f, open(os.path.join(again, "model.safetensors"), "rb") as g:
            self.assertEqual(f.read(), g.read())  # the same settings on the same threads: the same weights

    def test_config_files_toml_json_and_their_errors(self):
        toml = os.path.join(self.tmp.name, "bench.toml")
        with open(toml, "w") as f:
            f.write('# a bench setting\nmode = "infer"\nbatch-size = 4\nsize = 32\niters = 3\nwarmup = 0\nthreads = 2\n')
        dumped = json.loads(run("bench", "--config", toml, "-b", "8", "--dump-config").stdout)
        self.assertEqual((dumped["mode"], dumped["batch_size"], dumped["size"], dumped["iters"]), ("infer", 8, 32, 3))
        again = os.path.join(self.tmp.name, "bench.json")
        with open(again, "w") as f:
            json.dump(dumped, f)
        self.assertEqual(json.loads(run("bench", "--config", again, "--dump-config").stdout), dumped)  # a fixed point
        r = json.loads(run("bench", "--config", again, "--json").stdout)
        self.assertEqual((r["mode"], r["batch_size"], r["iters"]), ("infer", 8, 3))
        ev = json.loads(run("eval", "-w", self.weights, "--test-limit", "64", "--dump-config").stdout)
        ev_file = os.path.join(self.tmp.name, "eval.json")
        with open(ev_file, "w") as f:
            json.dump(ev, f)
        self.assertEqual(json.loads(run("eval", "--config", ev_file, "--dump-config").stdout), ev)  # --weights from the file
        for text, message in (("batch_sise = 3\n", "'batch_sise' is not a setting of googlenet bench"),
                              ('{"iters": [3]}', "'iters' is [3]; a setting is a number, a string, true or false"),
                              ("[bench]\niters = 3\n", "sections are not read"),
                              ('{"profile": "yes"}', "'profile' is yes; it takes true or false")):
            bad = os.path.join(self.tmp.name, "bad.conf")
            with open(bad, "w") as f:
                f.write(text)
            p = run("bench", "--config", bad, ok=False)
            self.assertEqual(p.returncode, 2, text)
            self.assertIn(f"{bad}: {message}", p.stderr)
        p = run("eval", "--config", os.path.join(self.run_dir, "config.json"), ok=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("is not a setting of googlenet eval", p.stderr)

    def test_short_flags_and_threads_from_openmp(self):
        d = json.loads(run("train", "-b", "32", "-j", "3", "-o", "x", "-e", "4", "-m", "paper", "--dump-config").stdout)
        self.assertEqual((d["batch_size"], d["data_threads"], d["out_dir"], d["epochs"], d["model"]), (32, 3, "x", 4, "paper"))
        bench = ["bench", "--mode", "infer", "-b", "2", "--size", "32", "--iters", "1", "--warmup", "0", "--json"]
        one = dict(os.environ, OMP_NUM_THREADS="1")
        self.assertEqual(json.loads(run(*bench, env=one).stdout)["threads"], 1)
        self.assertEqual(json.loads(run(*bench, "--threads", "2", env=one).stdout)["threads"], 2)  # the flag wins
        unset = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        self.assertEqual(json.loads(run(*bench, env=unset).stdout)["threads"], os.cpu_count())

    def test_engine_options_are_flags_kept_with_the_run(self):
        """--layout and --winograd-max-tile replace 0.2's GOOGLENET_* variables, which change nothing now."""
        bench = ["bench", "--model", self.model, "--mode", "infer", "-b", "2", "--iters", "1", "--warmup", "0", "--json"]
        env = dict(os.environ, GOOGLENET_LAYOUT="bogus", GOOGLENET_WINOGRAD="bogus")
        r = json.loads(run(*bench, env=env).stdout)  # 0.2 failed on the bogus layout
        self.assertEqual((r["layout"], r["winograd_max_tile"]), ("blocked", 6))
        r = json.loads(run(*bench, "--layout", "nhwc", "--winograd-max-tile", "0").stdout)
        self.assertEqual((r["layout"], r["winograd_max_tile"]), ("nhwc", 0))
        with open(os.path.join(self.run_dir, "config.json")) as f:
            config = json.load(f)
        self.assertEqual((config["layout"], config["winograd_max_tile"], config["parallel"]), ("blocked", 6, "batch"))
        p = run("train", "--resume", self.run_dir, "--winograd-max-tile", "0", "-e", "3", ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("--winograd-max-tile 0 (the run's: 6)", p.stderr)
        self.assertIn("Engine (for measuring alternatives)", run("train", "--help").stdout)

    def test_precision_says_what_runs(self):
        """--precision: fp32 by default, bf16 for inference and training, auto as the CPU allows; said on stderr and in --json."""
        bench = ["bench", "--model", self.model, "--mode", "infer", "-b", "2", "--iters", "1", "--warmup", "0", "--json"]
        self.assertEqual(json.loads(run(*bench).stdout)["precision"], "fp32")
        r = json.loads(run(*bench, "--precision", "bf16").stdout)
        self.assertEqual(r["precision"], "bf16")
        p = run(*bench, "--precision", "auto")
        native = json.loads(p.stdout)["googlenet"]["onednn_isa"] in ("avx512_core_bf16", "avx512_core_fp16", "avx512_core_amx",
                                                                    "avx512_core_amx_fp16")
        self.assertEqual(json.loads(p.stdout)["precision"], "bf16" if native else "fp32")
        self.assertIn("--precision auto: " + ("bf16" if native else "fp32"), p.stderr)
        x = os.path.join(self.tmp.name, "x_precision.safetensors")
        self.write_input(x)
        fp32 = json.loads(run("predict", "-w", self.weights, "--tensor", x, "--json").stdout)
        b16 = json.loads(run("predict", "-w", self.weights, "--tensor", x, "--json", "--precision", "bf16").stdout)
        self.assertEqual((fp32["precision"], b16["precision"]), ("fp32", "bf16"))
        self.assertEqual(len(fp32["predictions"]), len(b16["predictions"]))
        ev = json.loads(run("eval", "-w", self.weights, "--test-limit", "64", "--json", "--precision", "bf16").stdout)
        self.assertEqual(ev["precision"], "bf16")
        # Below AVX-512 oneDNN 3.2 has no bf16 convolution: a clear error, not oneDNN's (as on such a CPU).
        avx2 = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2")
        p = run(*bench, "--precision", "bf16", env=avx2, ok=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("precision bf16 needs a CPU with AVX-512", p.stderr)
        self.assertEqual(json.loads(run(*bench, "--precision", "auto", env=avx2).stdout)["precision"], "fp32")
        # Training takes bf16 too (mixed precision), and its run remembers it.
        bf16_run = os.path.join(self.tmp.name, "bf16run")
        p = run("train", "--model", self.model, "-e", "1", "-o", bf16_run, "--precision", "bf16", *SMALL)
        with open(os.path.join(bf16_run, "config.json")) as f:
            self.assertEqual(json.load(f)["precision"], "bf16")
        p = run("bench", "--model", self.model, "--mode", "train", "-b", "2", "--iters", "1", "--warmup", "0", "--json",
                "--precision", "auto")
        self.assertEqual(json.loads(p.stdout)["precision"], "bf16" if native else "fp32")
        with open(os.path.join(self.run_dir, "config.json")) as f:
            self.assertEqual(json.load(f)["precision"], "fp32")

    def test_version_says_what_produced_a_figure(self):
        v = run("--version").stdout
        self.assertRegex(v, r"^googlenet \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}(-dirty)?\)\n")
        self.assertRegex(v, r"\noneDNN 3\.\d+\.\d+, kernels up to (avx|sse)\w*\n")
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        self.assertIn(f"\nCPU: {cpu}\n", v)
        self.assertRegex(v, r"\nMPI: (.+ \(built in\)|not built in)\n$")
        about = json.loads(run("summary", "--json").stdout)["googlenet"]
        self.assertIn(f"googlenet {about['version']} (commit {about['commit']})", v)
        self.assertIn(f"kernels up to {about['onednn_isa']}\n", v)

    def test_bench_statistics_and_time_bound(self):
        r = json.loads(run("bench", "--mode", "infer", "-b", "1", "--size", "32", "--warmup", "1", "--time", "0.5",
                           "--threads", "2", "--json").stdout)
        self.assertGreater(r["iters"], 1)
        self.assertEqual(len(r["ms"]), r["iters"])
        self.assertGreaterEqual(sum(r["ms"]), 0.5 * 1000 - max(r["ms"]))  # ran until the time was up
        ms = sorted(r["ms"])
        self.assertEqual((r["ms_min"], r["ms_max"]), (ms[0], ms[-1]))
        self.assertEqual(r["ms_p90"], ms[-(-9 * len(ms) // 10) - 1])  # nearest rank
        self.assertAlmostEqual(r["ms_mean"], sum(ms) / len(ms))
        self.assertLessEqual(r["ms_min"], r["ms_median"])
        self.assertLessEqual(r["ms_median"], r["ms_p90"])
        self.assertGreaterEqual(r["ms_stddev"], 0)
        p = run("bench", "--mode", "infer", "-b", "1", "--size", "32", "--warmup", "0", "--iters", "3", "--threads", "2")
        self.assertRegex(p.stdout, r"ms per iteration: min [\d.]+, median [\d.]+, mean [\d.]+, p90 [\d.]+, max [\d.]+; "
                                   r"standard deviation [\d.]+")

    def test_man_page_and_completion_install(self):
        build = os.path.dirname(BIN)
        prefix = os.path.join(self.tmp.name, "prefix")
        subprocess.run(["cmake", "--install", build, "--prefix", prefix], check=True, capture_output=True, timeout=300)
        installed = os.path.join(prefix, "bin", "googlenet")
        self.assertEqual(subprocess.run([installed, "--version"], capture_output=True).returncode, 0)
        page = subprocess.run(["man", "-l", os.path.join(prefix, "share", "man", "man1", "googlenet.1")],
                              capture_output=True, text=True, env=dict(os.environ, MANWIDTH="120"), timeout=60)
        self.assertEqual(page.returncode, 0, page.stderr)
        for text in ("googlenet train", "googlenet bench", "--dump-config", "Exit status"):
            self.assertIn(text, page.stdout)
        completion = os.path.join(prefix, "share", "bash-completion", "completions", "googlenet")

        def complete(*words):
            script = (f"source {completion}; COMP_WORDS=({installed} {' '.join(words)} ''); "
                      "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _googlenet; printf '%s\\n' \"${COMPREPLY[@]}\"")
            return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()

        self.assertIn("train", complete())
        self.assertIn("--dump-config", complete("bench"))
        self.assertEqual(sorted(complete("bench", "--mode")), ["infer", "train"])
        self.assertEqual(sorted(complete("train", "--progress")), ["auto", "bar", "none", "plain"])
        self.assertTrue({"d2l", "paper", "torchvision"} <= set(complete("eval", "--model")))


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Reference measurements for `evomerge bench perf`.

Runs the same work as the Go side with NumPy (OpenBLAS SGEMM, memory-bound
merges) and PyTorch (CPU forward passes) and prints one JSON object on stdout:

  {"numpy": "...", "torch": "...", "threads": 2, "openblas_core": "SkylakeX",
   "gemm":    [{"lib": "numpy"|"torch", "size": n, "gflops": x}, ...],
   "forward": [{"lib": "torch", "model": "mlp"|"cnn", "images_per_s": x}, ...],
   "merge":   [{"lib": "numpy", "op": "copy"|"task_arithmetic", "gbps": x}, ...]}

Merge figures are GB/s of input read (a copy reads one tensor; task arithmetic
reads the base and every expert), as the Go side counts them.

Every figure is the best of --repeat timed rounds. The models match
internal/model/mlp and internal/model/cnn: the MLP is 784-512-512-10 with
ReLU; the CNN is conv3x3(16, pad 1)-ReLU-maxpool2-conv3x3(32, pad 1)-ReLU-
maxpool2-linear(128)-ReLU-linear(10), both in float32 on 1x28x28 inputs,
evaluated in batches under torch.no_grad().

Use Debian's python3-numpy, python3-torch and libopenblas0-pthread, and call
/usr/bin/python3 explicitly (another python3 may come first in PATH). Thread
counts are fixed before the libraries start (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
torch.set_num_threads). "openblas_core" is the kernel OpenBLAS chose at run time:
an OpenBLAS older than the CPU may fall back to a generic kernel ("Prescott");
--openblas-coretype (OPENBLAS_CORETYPE) then forces the right one, e.g. SkylakeX
on AVX-512 Xeons.
"""

import argparse
import json
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="threads for OpenBLAS and PyTorch")
    p.add_argument("--gemm-sizes", default="256,512,1024,2048", help="comma-separated square SGEMM sizes")
    p.add_argument("--images", type=int, default=10000, help="images per forward measurement")
    p.add_argument("--batch", type=int, default=256, help="forward batch size")
    p.add_argument("--merge-elements", type=int, default=16 << 20, help="float32 elements per merged tensor")
    p.add_argument("--merge-models", type=int, default=4, help="experts in the task-arithmetic merge")
    p.add_argument("--repeat", type=int, default=3, help="timed rounds per figure (best is kept)")
    p.add_argument("--openblas-coretype", default="", help="force OpenBLAS's kernel (OPENBLAS_CORETYPE), e.g. SkylakeX")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: gemm, forward, merge")
    return p.parse_args()


def best_time(fn, repeat, min_seconds=0.2):
    """Best time per call of fn over repeat rounds of at least min_seconds each."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return best


def openblas_core():
    """The kernel name OpenBLAS picked, or "" when NumPy does not use OpenBLAS."""
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = [line.split()[-1] for line in maps if "openblas" in line and "/" in line]
        if not paths:
            return ""
        lib = ctypes.CDLL(paths[0])
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return ""


def main():
    args = parse_args()
    threads = str(args.threads)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads
    if args.openblas_coretype:
        os.environ["OPENBLAS_CORETYPE"] = args.openblas_coretype
    skip = set(filter(None, args.skip.split(",")))
    out = {"threads": args.threads, "gemm": [], "forward": [], "merge": []}

    import numpy as np

    out["numpy"] = np.__version__
    out["openblas_core"] = openblas_core()
    rng = np.random.default_rng(1)
    sizes = [int(s) for s in args.gemm_sizes.split(",") if s]

    if "gemm" not in skip:
        for n in sizes:
            a = rng.standard_normal((n, n), dtype=np.float32)
            b = rng.standard_normal((n, n), dtype=np.float32)
            c = np.empty((n, n), dtype=np.float32)
            t = best_time(lambda: np.matmul(a, b, out=c), args.repeat)
            out["gemm"].append({"lib": "numpy", "size": n, "gflops": 2 * n**3 / t / 1e9})

    if "merge" not in skip:
        n, k = args.merge_elements, args.merge_models
        base = rng.standard_normal(n, dtype=np.float32)
        experts = [rng.standard_normal(n, dtype=np.float32) for _ in range(k)]
        dst = np.empty(n, dtype=np.float32)
        # GB/s of input read, as on the Go side: a copy reads one tensor, task
        # arithmetic reads the base and every expert.
        t = best_time(lambda: np.copyto(dst, base), args.repeat)
        out["merge"].append({"lib": "numpy", "op": "copy", "gbps": 4 * n / t / 1e9})
        lam = 1.0 / k
        tmp = np.empty(n, dtype=np.float32)

        def task_arithmetic():
            # dst = base + lam * sum(x - base), in place without temporaries.
            np.copyto(dst, base)
            for x in experts:
                np.subtract(x, base, out=tmp)
                np.multiply(tmp, lam, out=tmp)
                np.add(dst, tmp, out=dst)

        t = best_time(task_arithmetic, args.repeat)
        out["merge"].append({"lib": "numpy", "op": "task_arithmetic", "gbps": 4 * n * (k + 1) / t / 1e9})

    try:
        import torch
    except ImportError as err:
        out["torch"] = None
        out["torch_error"] = str(err)
        json.dump(out, sys.stdout)
        print()
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    out["torch"] = torch.__version__

    if "gemm" not in skip:
        for n in sizes:
            a = torch.randn(n, n)
            b = torch.randn(n, n)
            c = torch.empty(n, n)
            t = best_time(lambda: torch.mm(a, b, out=c), args.repeat)
            out["gemm"].append({"lib": "torch", "size": n, "gflops": 2 * n**3 / t / 1e9})

    if "forward" not in skip:
        nn = torch.nn
        models = {
            "mlp": nn.Sequential(
                nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
            ),
            "cnn": nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
            ),
        }
        images = torch.rand(args.images, 1, 28, 28)
        batches = list(torch.split(images, args.batch))
        for name, model in models.items():
            model.eval()

            def forward():
                with torch.no_grad():
                    for x in batches:
                        model(x)

            t = best_time(forward, args.repeat, min_seconds=0.05)
            out["forward"].append({"lib": "torch", "model": name, "images_per_s": args.images / t})

    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()

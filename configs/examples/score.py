#!/usr/bin/env python3
"""Scores a merged checkpoint for experiment-command.toml (Python standard library only).

    python3 score.py --model MERGED --base BASE --expert NAME=PATH [--expert NAME=PATH ...]

It stands in for your own evaluation script and shows the protocol the command
evaluator expects: read the checkpoint evomerge wrote, print one JSON line
{"scores": {"<task>/<metric>": <number>, ...}} on standard output as the last line,
logs on standard error, and exit non-zero (with the reason on standard error)
when the candidate cannot be scored.

The metric it reports needs no data: for each expert NAME,
NAME/closeness = 1 - |merged - expert| / |base - expert|, over the tensors the
three checkpoints share. It is 1 when the merge equals the expert, 0 when it
is as far from it as the base is, negative when farther. Replace it with your
benchmark (accuracy on your data, a perplexity, an LLM judge, ...).

Checkpoints are .safetensors files, directories holding model.safetensors, or
sharded directories (model.safetensors.index.json); F32, F16 and BF16 tensors.
"""

import argparse
import array
import json
import math
import os
import struct
import sys


def shard_files(path):
    """Returns the .safetensors files of a checkpoint path."""
    if os.path.isdir(path):
        index = os.path.join(path, "model.safetensors.index.json")
        if os.path.exists(index):
            with open(index) as f:
                weight_map = json.load(f)["weight_map"]
            return [os.path.join(path, name) for name in sorted(set(weight_map.values()))]
        return [os.path.join(path, "model.safetensors")]
    return [path]


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header, 8 + n


def decode(raw, dtype):
    if dtype == "F32":
        values = array.array("f")
        values.frombytes(raw)
        if sys.byteorder != "little":
            values.byteswap()
        return values
    if dtype == "F16":
        return array.array("f", (v for (v,) in struct.iter_unpack("<e", raw)))
    if dtype == "BF16":
        halves = array.array("H")
        halves.frombytes(raw)
        if sys.byteorder != "little":
            halves.byteswap()
        words = array.array("I", (h << 16 for h in halves))
        values = array.array("f")
        values.frombytes(words.tobytes())
        return values
    raise ValueError("dtype %s is not supported by this scorer" % dtype)


class Checkpoint:
    """Reads the tensors of a checkpoint one at a time."""

    def __init__(self, path):
        self.where = {}
        for file in shard_files(path):
            header, start = read_header(file)
            for name, info in header.items():
                self.where[name] = (file, start, info)

    def names(self):
        return set(self.where)

    def tensor(self, name):
        file, start, info = self.where[name]
        begin, end = info["data_offsets"]
        with open(file, "rb") as f:
            f.seek(start + begin)
            return decode(f.read(end - begin), info["dtype"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the merged checkpoint ({model})")
    parser.add_argument("--base", required=True, help="the base checkpoint the experts were fine-tuned from")
    parser.add_argument("--expert", action="append", required=True, metavar="NAME=PATH", help="an expert and its checkpoint")
    args = parser.parse_args()

    merged, base = Checkpoint(args.model), Checkpoint(args.base)
    scores = {}
    for spec in args.expert:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            sys.exit("--expert %r: write NAME=PATH" % spec)
        expert = Checkpoint(path)
        shared = sorted(merged.names() & base.names() & expert.names())
        if not shared:
            sys.exit("the merge, the base and expert %s share no tensor" % name)
        far = near = 0.0
        for tensor in shared:
            m, b, e = merged.tensor(tensor), base.tensor(tensor), expert.tensor(tensor)
            if not (len(m) == len(b) == len(e)):
                sys.exit("tensor %s has different sizes in the merge, the base and expert %s" % (tensor, name))
            near += sum((x - y) ** 2 for x, y in zip(m, e))
            far += sum((x - y) ** 2 for x, y in zip(b, e))
        if far == 0:
            sys.exit("expert %s equals the base on every shared tensor: closeness is undefined" % name)
        score = 1 - math.sqrt(near / far)
        if not math.isfinite(score):
            sys.exit("the merge has non-finite weights (closeness to %s is %r)" % (name, score))
        scores[name + "/closeness"] = score
        print("%s: %d shared tensors, closeness %.4f" % (name, len(shared), score), file=sys.stderr)
    print(json.dumps({"scores": scores}))


if __name__ == "__main__":
    main()

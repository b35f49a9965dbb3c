#!/usr/bin/env python3
"""Import the ECS service model from a pinned botocore release, without AWS's prose.

Usage: python3 api-models/model/import_model.py [BOTOCORE_VERSION]

Downloads the `botocore` wheel (PyPI) at the pinned version, reads
botocore/data/ecs/2014-11-13/service-2.json.gz, drops every `documentation` string and
other human-only prose (shapes and operations are facts; the prose is AWS's), and writes
api-models/model/ecs-2014-11-13.json in a stable, diff-friendly form. Then run
`cargo run -p xtask -- codegen` to regenerate the Rust types.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile

PINNED = "1.43.11"
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_IN_WHEEL = "botocore/data/ecs/2014-11-13/service-2.json.gz"
# Keys that carry only prose or presentation; everything else is kept.
PROSE_KEYS = {"documentation", "documentationUrl", "deprecatedMessage", "examples"}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in PROSE_KEYS}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def main():
    version = sys.argv[1] if len(sys.argv) > 1 else PINNED
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "-d", tmp, f"botocore=={version}"],
            check=True,
        )
        wheel = next(f for f in os.listdir(tmp) if f.endswith(".whl"))
        with zipfile.ZipFile(os.path.join(tmp, wheel)) as zf:
            model = json.loads(gzip.decompress(zf.read(MODEL_IN_WHEEL)))
    model = strip(model)
    model["metadata"]["x-kubecs-source"] = f"botocore {version}: {MODEL_IN_WHEEL}"
    out = os.path.join(HERE, "ecs-2014-11-13.json")
    with open(out, "w") as f:
        json.dump(model, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {out}: {len(model['operations'])} operations, {len(model['shapes'])} shapes")


if __name__ == "__main__":
    main()

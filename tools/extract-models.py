#!/usr/bin/env python3
"""Writes the doc-free extract of the botocore API models Cachalot serves.

The extract keeps what the wire layer and the code generator need (metadata,
operations, shapes, members, traits) and drops AWS's prose (documentation,
examples). Run it when botocore's models change; CI only checks that the Go
generated from the extract is current (go generate leaves no diff).

    python3 tools/extract-models.py        # writes api/models/<service>.json

api/models/cachalot.json, the model of Cachalot's own actions, is not
botocore's: it is written by hand in the same format and left alone here.
"""
import gzip, json, os, sys

import botocore

SERVICES = {
    "elasticache": "elasticache/2015-02-02",
    "ec2": "ec2/2016-11-15",
    "iam": "iam/2010-05-08",
    "sts": "sts/2011-06-15",
    "cloudwatch": "cloudwatch/2010-08-01",
}
# PROTOCOL picks, for a service whose model offers several protocols
# ("protocols"), the one the generated package speaks: CloudWatch lists
# smithy-rpc-v2-cbor, json and query; Cachalot's codec speaks query (its
# awsJson 1.0 form, which botocore prefers, is translated at the edge).
PROTOCOL = {"cloudwatch": "query"}
DROP = {"documentation", "documentationUrl", "deprecatedMessage", "examples", "box"}


def load(rel):
    base = os.path.join(os.path.dirname(botocore.__file__), "data", rel, "service-2.json")
    if os.path.exists(base + ".gz"):
        with gzip.open(base + ".gz", "rt") as f:
            return json.load(f)
    with open(base) as f:
        return json.load(f)


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in DROP}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api", "models")
    os.makedirs(out, exist_ok=True)
    for name, rel in SERVICES.items():
        model = strip(load(rel))
        model.pop("documentation", None)
        keep = {k: model[k] for k in ("version", "metadata", "operations", "shapes") if k in model}
        keep["metadata"] = {k: v for k, v in keep["metadata"].items() if k != "uid"}
        if name in PROTOCOL:
            keep["metadata"]["protocol"] = PROTOCOL[name]
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(keep, f, indent=1, sort_keys=True)
            f.write("\n")
        print(name, len(keep["operations"]), "operations", len(keep["shapes"]), "shapes", file=sys.stderr)


if __name__ == "__main__":
    main()

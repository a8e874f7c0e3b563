#!/usr/bin/env python3
"""Holds kbroker's message definitions (*.kmsg) against Kafka's upstream JSON specs.

usage: check_definitions.py DEFS_DIR [DEFS_DIR...]
Upstream specs are looked up in $KAFKA_PROTOCOL_DIR or ../shared/kafka-protocol next to the
repository (messages/ and metadata-records/). Exit 0: all agree; 1: differences (listed);
77: the upstream folder is absent (skipped)."""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "protocol", "gen"))
import kgen  # noqa: E402


def upstream_dir():
    return os.environ.get("KAFKA_PROTOCOL_DIR", os.path.join(os.path.dirname(REPO), "shared", "kafka-protocol"))


def load_json(path):
    with open(path) as f:
        text = re.sub(r"^\s*//.*$", "", f.read(), flags=re.M)
    return json.loads(text)


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def norm_default(d):
    if d is None:
        return None
    d = str(d)
    if d in ("True", "False"):
        return d.lower()
    if d.lower().startswith(("0x", "-0x")):
        return str(int(d, 16))
    return d


def versions_text(v):
    return v.text


def compare_fields(where, ours, theirs, problems):
    names_ours = [f.name for f in ours]
    names_theirs = [snake(f["name"]) for f in theirs]
    if names_ours != names_theirs:
        problems.append(f"{where}: fields {names_ours} != upstream {names_theirs}")
        return
    for f, u in zip(ours, theirs):
        w = f"{where}.{f.name}"
        if f.type != u["type"]:
            problems.append(f"{w}: type {f.type} != upstream {u['type']}")
        if "versions" in f.attrs and f.attrs["versions"] != u.get("versions"):
            problems.append(f"{w}: versions {f.attrs['versions']} != upstream {u.get('versions')}")
        if f.attrs.get("nullable", "none") != u.get("nullableVersions", "none"):
            problems.append(f"{w}: nullable {f.attrs.get('nullable')} != upstream {u.get('nullableVersions')}")
        if (f.tag, ) != (u.get("tag"), ) and str(f.tag) != str(u.get("tag")):
            problems.append(f"{w}: tag {f.tag} != upstream {u.get('tag')}")
        ud = norm_default(u.get("default"))
        od = norm_default(f.default)
        if od == '""':
            od = ""
        if ud is not None and od != ud:
            problems.append(f"{w}: default {od} != upstream {ud}")
        if u.get("flexibleVersions") == "none" and not f.never_flexible:
            problems.append(f"{w}: upstream is never flexible")
        compare_fields(w, f.children, u.get("fields", []), problems)


def main():
    up = upstream_dir()
    if not os.path.isdir(os.path.join(up, "messages")):
        print(f"skipped: upstream Kafka specs not found at {up}")
        return 77
    problems = []
    checked = 0
    for defs in sys.argv[1:] or [os.path.join(REPO, "protocol", "messages")]:
        for name in sorted(os.listdir(defs)):
            if not name.endswith(".kmsg"):
                continue
            m = kgen.parse(os.path.join(defs, name))
            spec = None
            for sub in ("messages", "metadata-records", "coordinator-records"):
                p = os.path.join(up, sub, m.name + ".json")
                if os.path.exists(p):
                    spec = load_json(p)
                    break
            if spec is None:
                problems.append(f"{m.name}: no upstream spec")
                continue
            checked += 1
            if m.versions.text != spec["validVersions"]:
                problems.append(f"{m.name}: versions {m.versions.text} != upstream {spec['validVersions']}")
            if m.flexible.text != spec.get("flexibleVersions", "none"):
                problems.append(f"{m.name}: flexible {m.flexible.text} != upstream {spec.get('flexibleVersions')}")
            if m.api_key is not None and m.api_key != spec.get("apiKey"):
                problems.append(f"{m.name}: apiKey {m.api_key} != upstream {spec.get('apiKey')}")
            compare_fields(m.name, m.fields, spec["fields"], problems)
            ours_structs = {n: fs for n, fs in m.structs}
            for cs in spec.get("commonStructs", []):
                if cs["name"] not in ours_structs:
                    problems.append(f"{m.name}: common struct {cs['name']} missing")
                else:
                    compare_fields(f"{m.name}.{cs['name']}", ours_structs[cs["name"]], cs["fields"], problems)
    for p in problems:
        print("DIFF", p)
    print(f"{checked} definitions checked, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Holds kbroker's message definitions (*.kmsg) against Kafka's upstream JSON specs.

usage: check_definitions.py DEFS_DIR [DEFS_DIR...]
Upstream specs are looked up in $KAFKA_PROTOCOL_DIR (either the messages folder itself or the
folder holding messages/, metadata-records/ and coordinator-records/), by default
../shared/kafka-protocol next to the repository. Exit 0: all agree; 1: differences (listed);
77: the upstream folder is absent (skipped)."""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "protocol", "gen"))
import kgen  # noqa: E402


def spec_dirs():
    """The folders to search for upstream specs, most likely first; empty when none exists."""
    up = os.environ.get("KAFKA_PROTOCOL_DIR",
                        os.path.join(os.path.dirname(REPO), "shared", "kafka-protocol"))
    if os.path.basename(os.path.normpath(up)) == "messages":
        up = os.path.dirname(os.path.normpath(up))
    dirs = [os.path.join(up, sub) for sub in ("messages", "metadata-records", "coordinator-records")]
    return up, [d for d in dirs if os.path.isdir(d)]


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


def same_range(ours, text):
    """True when a kgen Versions equals an upstream version string (both may be empty)."""
    theirs = kgen.Versions(text or "none")
    if ours.empty() and theirs.empty():
        return True
    return (ours.lo, ours.hi) == (theirs.lo, theirs.hi)


TYPE_DEFAULTS = {"false", "0", "", "null"}


def compare_fields(where, ours, theirs, flexible, problems):
    """Compares two field lists recursively; `flexible` is the message's flexible range.
    Fields marked ext=kbroker are kbroker's own tagged extensions (ignorable by Kafka's
    readers) and have no upstream counterpart."""
    ours = [f for f in ours if f.attrs.get("ext") != "kbroker"]
    names_ours = [f.name for f in ours]
    names_theirs = [snake(f["name"]) for f in theirs]
    if names_ours != names_theirs:
        problems.append(f"{where}: fields {names_ours} != upstream {names_theirs}")
        return
    for f, u in zip(ours, theirs):
        w = f"{where}.{f.name}"
        if f.type != u["type"]:
            problems.append(f"{w}: type {f.type} != upstream {u['type']}")
        # f.versions is resolved (inherited from the parent when the definition omits it).
        # A field with only taggedVersions exists in those versions (Kafka's generator).
        upstream_versions = u.get("versions", u.get("taggedVersions"))
        if not same_range(f.versions, upstream_versions):
            problems.append(f"{w}: versions {f.versions.text} != upstream {upstream_versions}")
        if not same_range(f.nullable, u.get("nullableVersions")):
            problems.append(f"{w}: nullable {f.attrs.get('nullable')} != upstream {u.get('nullableVersions')}")
        if str(f.tag) != str(u.get("tag")):
            problems.append(f"{w}: tag {f.tag} != upstream {u.get('tag')}")
        if f.tag is not None or "taggedVersions" in u:
            # Our tagged fields are tagged in every flexible version they exist in.
            tagged = f.versions.intersect(flexible) if f.tag is not None else kgen.Versions("none")
            if not same_range(tagged, u.get("taggedVersions")):
                problems.append(f"{w}: tagged in {tagged.lo}-{tagged.hi} != upstream taggedVersions "
                                f"{u.get('taggedVersions')}")
        ud = norm_default(u.get("default"))
        od = norm_default(f.default)
        if od == '""':
            od = ""
        if ud is not None and od != ud:
            problems.append(f"{w}: default {od} != upstream {ud}")
        if ud is None and od is not None and od not in TYPE_DEFAULTS:
            problems.append(f"{w}: default {od} where upstream has none")
        if (u.get("flexibleVersions") == "none") != f.never_flexible:
            problems.append(f"{w}: flexible=none {f.never_flexible} != upstream flexibleVersions "
                            f"{u.get('flexibleVersions')}")
        compare_fields(w, f.children, u.get("fields", []), flexible, problems)


def main():
    up, dirs = spec_dirs()
    if not dirs:
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
            for d in dirs:
                p = os.path.join(d, m.name + ".json")
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
            compare_fields(m.name, m.fields, spec["fields"], m.flexible, problems)
            if m.kind != spec.get("type"):
                problems.append(f"{m.name}: kind {m.kind} != upstream type {spec.get('type')}")
            ours_structs = {n: fs for n, fs in m.structs}
            theirs_structs = {cs["name"]: cs for cs in spec.get("commonStructs", [])}
            for name in sorted(set(ours_structs) - set(theirs_structs)):
                problems.append(f"{m.name}: common struct {name} is not upstream")
            for name, cs in theirs_structs.items():
                if name not in ours_structs:
                    problems.append(f"{m.name}: common struct {name} missing")
                else:
                    compare_fields(f"{m.name}.{name}", ours_structs[name], cs["fields"], m.flexible,
                                   problems)
    for p in problems:
        print("DIFF", p)
    print(f"{checked} definitions checked, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

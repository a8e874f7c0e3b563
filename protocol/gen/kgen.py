#!/usr/bin/env python3
"""kgen: generates C++ structs with encode/decode for every version of a Kafka message from
kbroker's own definition files (*.kmsg, format in protocol/messages/README.md).

usage: kgen.py --out DIR [--namespace NS] [--include-prefix P] [--api-table] [--samples]
              FILE.kmsg...
For each FILE (stem S) it writes DIR/S.h and DIR/S.cc; with --api-table also DIR/api_keys.h
and DIR/api_keys.cc (every request's key, name and version ranges, and header versions); with
--samples also DIR/message_samples.h (fill() functions that give every field a sample value,
for tests). Files whose content did not change are not rewritten, so only changed messages
recompile. Standard library only."""

import argparse
import os
import re
import sys

PRIMITIVES = {
    "bool": ("bool", "false", 1),
    "int8": ("int8_t", "0", 1),
    "int16": ("int16_t", "0", 2),
    "int32": ("int32_t", "0", 4),
    "int64": ("int64_t", "0", 8),
    "uint16": ("uint16_t", "0", 2),
    "uint32": ("uint32_t", "0", 4),
    "float64": ("double", "0", 8),
    "uuid": ("kb::Uuid", "{}", 16),
}
VARIABLE = {"string", "bytes", "records"}
# Free-text string fields: cut to Kafka's 32767-byte limit when longer (wire.h StringKind);
# every other string over the limit is a bug the encoder asserts on in debug builds.
TEXT_FIELDS = {"error_message", "documentation", "reason"}


class DefError(Exception):
    pass


class Versions:
    """A version range: 'A+', 'A-B', 'A', or 'none'."""

    def __init__(self, text):
        self.text = text
        if text == "none":
            self.lo, self.hi = 1, 0
        elif text.endswith("+"):
            self.lo, self.hi = int(text[:-1]), 32767
        elif "-" in text:
            a, b = text.split("-")
            self.lo, self.hi = int(a), int(b)
        else:
            self.lo = self.hi = int(text)

    def empty(self):
        return self.lo > self.hi

    def cond(self, var="v"):
        if self.empty():
            return "false"
        parts = []
        if self.lo > 0:
            parts.append(f"{var} >= {self.lo}")
        if self.hi < 32767:
            parts.append(f"{var} <= {self.hi}")
        return " && ".join(parts) if parts else "true"

    def intersect(self, other):
        v = Versions("none")
        v.lo, v.hi = max(self.lo, other.lo), min(self.hi, other.hi)
        return v


class Field:
    def __init__(self, name, type_, attrs, line):
        self.name = name
        self.type = type_
        self.attrs = attrs
        self.line = line
        self.children = []
        self.versions = None
        self.nullable = Versions(attrs.get("nullable", "none"))
        self.tag = int(attrs["tag"]) if "tag" in attrs else None
        self.default = attrs.get("default")
        self.never_flexible = attrs.get("flexible") == "none"

    @property
    def is_array(self):
        return self.type.startswith("[]")

    @property
    def elem(self):
        return self.type[2:] if self.is_array else self.type

    @property
    def is_struct_type(self):
        return self.elem not in PRIMITIVES and self.elem not in VARIABLE


class Message:
    def __init__(self, name, kind, attrs):
        self.name = name
        self.kind = kind
        self.api_key = int(attrs["apiKey"]) if "apiKey" in attrs else None
        self.versions = Versions(attrs.get("versions", "0"))
        self.flexible = Versions(attrs.get("flexible", "none"))
        self.fields = []
        self.structs = []  # (name, fields) common structs


def parse(path):
    msg = None
    stack = []  # (indent, field list)
    current_struct = None
    with open(path) as f:
        lines = f.readlines()
    for no, raw in enumerate(lines, 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        words = line.split()
        where = f"{path}:{no}"
        if indent == 0:
            if words[0] == "message":
                if msg is not None:
                    raise DefError(f"{where}: one message per file")
                if len(words) < 3:
                    raise DefError(f"{where}: message NAME KIND attrs...")
                msg = Message(words[1], words[2], kv(words[3:], where))
                stack = [(0, msg.fields)]
                current_struct = None
            elif words[0] == "struct":
                if msg is None:
                    raise DefError(f"{where}: struct before message")
                current_struct = (words[1], [])
                msg.structs.append(current_struct)
                stack = [(0, current_struct[1])]
            else:
                raise DefError(f"{where}: expected 'message' or 'struct'")
            continue
        if indent % 2:
            raise DefError(f"{where}: indent by two spaces")
        if len(words) < 2:
            raise DefError(f"{where}: field NAME TYPE attrs...")
        fld = Field(words[0], words[1], kv(words[2:], where), where)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if not stack:
            raise DefError(f"{where}: bad indentation")
        stack[-1][1].append(fld)
        stack.append((indent, fld.children))
    if msg is None:
        raise DefError(f"{path}: no message")
    resolve(msg, msg.fields, msg.versions)
    for _, fields in msg.structs:
        resolve(msg, fields, msg.versions)
    return msg


def kv(words, where):
    out = {}
    for w in words:
        if "=" in w:
            k, v = w.split("=", 1)
            out[k] = v
        elif w in ("ignorable",):
            out[w] = "true"
        else:
            raise DefError(f"{where}: attribute '{w}' is not key=value")
    return out


def resolve(msg, fields, parent_versions):
    for f in fields:
        f.versions = Versions(f.attrs["versions"]) if "versions" in f.attrs else parent_versions
        if f.children and not f.is_struct_type:
            raise DefError(f"{f.line}: only struct types have nested fields")
        if f.is_struct_type and not f.children:
            if f.elem not in [s[0] for s in msg.structs]:
                # may be defined later in the file; checked after parsing all structs
                pass
        resolve(msg, f.children, f.versions)


def camel_to_snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Gen:
    def __init__(self, msg, ns):
        self.msg = msg
        self.ns = ns
        self.h = []
        self.cc = []
        self.flex = msg.flexible
        self.common = {name: fields for name, fields in msg.structs}

    # --- C++ types -------------------------------------------------------------------
    def elem_cpp(self, f):
        e = f.elem
        if e in PRIMITIVES:
            return PRIMITIVES[e][0]
        if e == "string":
            return "std::string"
        if e == "bytes":
            return "std::vector<uint8_t>"
        if e == "records":
            return "kb::Records"
        return e

    def cpp_type(self, f):
        if f.is_array:
            t = f"std::vector<{self.elem_cpp(f)}>"
        else:
            t = self.elem_cpp(f)
        nullable_any = not f.nullable.empty()
        if nullable_any and f.elem != "records" and (f.is_array or f.elem in ("string", "bytes")):
            t = f"std::optional<{t}>"
        if nullable_any and f.is_struct_type and not f.is_array:
            raise DefError(f"{f.line}: nullable struct fields are not supported")
        return t

    def is_optional(self, f):
        return not f.nullable.empty() and f.elem != "records" and (
            f.is_array or f.elem in ("string", "bytes"))

    def default_init(self, f):
        d = f.default
        if f.is_array:
            if self.is_optional(f):
                # Like Kafka's generated Java: null only with default=null, else an empty array.
                return "std::nullopt" if d == "null" else f"std::vector<{self.elem_cpp(f)}>{{}}"
            return "{}"
        e = f.elem
        if e in PRIMITIVES:
            if d is None:
                return PRIMITIVES[e][1]
            if e == "bool":
                return "true" if d == "true" else "false"
            if e == "uuid":
                return "{}"
            if d.lower().startswith(("0x", "-0x")):
                return str(int(d, 16))
            return d
        if e in ("string", "bytes"):
            if d == "null" and self.is_optional(f):
                return "std::nullopt"
            if d == '""':
                d = ""
            if e == "string" and d not in (None, "null", ""):
                return '"' + d + '"'
            if self.is_optional(f):
                return "std::string()" if e == "string" else "std::vector<uint8_t>()"
            return "{}"
        if e == "records":
            return "{}"
        return "{}"

    def default_value(self, f):
        init = self.default_init(f)
        return f"decltype({f.name}){{}}" if init == "{}" else f"decltype({f.name})({init})"

    # --- minimum wire sizes (to refuse array counts the remaining bytes cannot hold) ----
    def min_size_fn(self, qual):
        return "min_size_" + qual.replace("::", "_")

    def struct_quals(self, qual, fields, out):
        """Collects (qualified name, fields) of every struct reachable from `fields`."""
        for f in fields:
            if f.children:
                self.struct_quals(f"{qual}::{f.elem}", f.children, out)
        out.append((qual, fields))

    def elem_qual(self, f, parent_qual):
        """The qualified C++ name of the struct type of field f, declared under parent_qual."""
        if f.children:
            return f"{parent_qual}::{f.elem}"
        return f"{self.msg.name}::{f.elem}"

    def elem_min_size(self, f, parent_qual, flex):
        """C++ expression: the fewest bytes one value of f's element type takes in version v."""
        e = f.elem
        if e in PRIMITIVES:
            return str(PRIMITIVES[e][2])
        if e == "string":
            return f"(({flex}) ? 1u : 2u)"
        if e in ("bytes", "records"):
            return f"(({flex}) ? 1u : 4u)"
        return f"{self.min_size_fn(self.elem_qual(f, parent_qual))}(v)"

    def gen_min_size(self, qual, fields):
        out = [f"[[maybe_unused]] size_t {self.min_size_fn(qual)}(int16_t v) {{",
               "  (void)v;",
               f"  const bool flex = {self.flex_cond()};",
               "  size_t n = flex ? 1 : 0;  // the tagged-field count"]
        for f in fields:
            if f.tag is not None:
                continue
            flex = "false" if f.never_flexible else "flex"
            if f.is_array:
                size = f"(({flex}) ? 1u : 4u)"
            else:
                size = self.elem_min_size(f, qual, flex)
            out.append(f"  if ({f.versions.cond('v')}) n += {size};")
        out.append("  return n;")
        out.append("}")
        return out

    # --- declarations ----------------------------------------------------------------
    def declare_struct(self, name, fields, indent, top=False):
        p = " " * indent
        out = [f"{p}struct {name} {{"]
        if top:
            m = self.msg
            if m.api_key is not None:
                out.append(f"{p}  static constexpr int16_t kApiKey = {m.api_key};")
            out.append(f"{p}  static constexpr int16_t kMinVersion = {m.versions.lo};")
            out.append(f"{p}  static constexpr int16_t kMaxVersion = {m.versions.hi};")
            ff = -1 if m.flexible.empty() else m.flexible.lo
            out.append(f"{p}  static constexpr int16_t kFirstFlexibleVersion = {ff};")
            for sname, sfields in m.structs:
                out += self.declare_struct(sname, sfields, indent + 2)
        for f in fields:
            if f.children:
                out += self.declare_struct(f.elem, f.children, indent + 2)
        for f in fields:
            out.append(f"{p}  {self.cpp_type(f)} {f.name} = {self.default_init(f)};")
        out.append(f"{p}  std::vector<kb::wire::UnknownTag> unknown_tags;")
        out.append("")
        out.append(f"{p}  void encode(kb::wire::Writer& w, int16_t v) const;")
        out.append(f"{p}  bool decode(kb::wire::Reader& r, int16_t v);")
        out.append(f"{p}  bool operator==(const {name}&) const = default;")
        out.append(f"{p}}};")
        return out

    # --- encode ----------------------------------------------------------------------
    def flex_cond(self):
        return self.flex.cond("v")

    def write_value(self, f, expr, flex, out, ind):
        """Writes `expr` (field value) for field f; flex is a C++ bool expression."""
        p = " " * ind
        opt = self.is_optional(f)
        null_ok = f.nullable.cond("v")
        if f.is_array:
            out.append(f"{p}{{")
            if opt:
                out.append(f"{p}  if (!{expr}.has_value() && ({null_ok})) {{")
                out.append(f"{p}    if ({flex}) w.write_uvarint(0); else w.write_int32(-1);")
                out.append(f"{p}  }} else {{")
                inner = self.cpp_type(f)[len('std::optional<'):-1]
                out.append(f"{p}    static const {inner} empty_;")
                out.append(f"{p}    const auto& arr_ = {expr} ? *{expr} : empty_;")
            else:
                out.append(f"{p}  {{")
                out.append(f"{p}    const auto& arr_ = {expr};")
            out.append(f"{p}    if ({flex}) w.write_compact_array_length(static_cast<int32_t>(arr_.size()));")
            out.append(f"{p}    else w.write_array_length(static_cast<int32_t>(arr_.size()));")
            out.append(f"{p}    for (const auto& el_ : arr_) {{")
            self.write_elem(f, "el_", flex, out, ind + 6)
            out.append(f"{p}    }}")
            out.append(f"{p}  }}")
            out.append(f"{p}}}")
            return
        self.write_elem(f, expr, flex, out, ind, opt=opt, null_ok=null_ok)

    def write_elem(self, f, expr, flex, out, ind, opt=False, null_ok="false"):
        p = " " * ind
        e = f.elem
        if e in PRIMITIVES:
            out.append(f"{p}w.write_{e}({expr});")  # wire.h names its codecs after the types
        elif e == "string":
            k = ", kb::wire::StringKind::kText" if f.name in TEXT_FIELDS else ""
            if opt:
                out.append(f"{p}if ({null_ok}) {{ if ({flex}) w.write_compact_nullable_string({expr}{k}); else w.write_nullable_string({expr}{k}); }}")
                out.append(f"{p}else {{ if ({flex}) w.write_compact_string({expr}.value_or(\"\"){k}); else w.write_string({expr}.value_or(\"\"){k}); }}")
            else:
                out.append(f"{p}if ({flex}) w.write_compact_string({expr}{k}); else w.write_string({expr}{k});")
        elif e == "bytes":
            if opt:
                out.append(f"{p}if ({null_ok}) {{ if ({flex}) w.write_compact_nullable_bytes({expr}); else w.write_nullable_bytes({expr}); }}")
                out.append(f"{p}else {{ const auto& b_ = {expr}; if ({flex}) w.write_compact_bytes(b_ ? *b_ : std::vector<uint8_t>{{}}); else w.write_bytes(b_ ? *b_ : std::vector<uint8_t>{{}}); }}")
            else:
                out.append(f"{p}if ({flex}) w.write_compact_bytes({expr}); else w.write_bytes({expr});")
        elif e == "records":
            out.append(f"{p}{expr}.encode(w, {flex});")
        else:
            out.append(f"{p}{expr}.encode(w, v);")

    def gen_encode(self, qual, fields):
        out = [f"void {qual}::encode(kb::wire::Writer& w, int16_t v) const {{"]
        out.append(f"  const bool flex = {self.flex_cond()};")
        out.append("  (void)v;")
        out.append("  (void)flex;")
        for f in fields:
            if f.tag is not None:
                continue
            cond = f.versions.cond("v")
            flex = "false" if f.never_flexible else "flex"
            body = []
            self.write_value(f, f.name, flex, body, 4)
            out.append(f"  if ({cond}) {{")
            out += body
            out.append("  }")
        tagged = sorted([f for f in fields if f.tag is not None], key=lambda f: f.tag)
        out.append("  if (flex) {")
        # Tagged fields go out in tag order, only when they differ from their default; unknown
        # tags kept from a decode are merged in by tag (they arrive sorted from any encoder).
        out.append("    uint64_t count_ = unknown_tags.size();")
        for f in tagged:
            out.append(f"    const bool has_{f.name}_ = ({f.versions.cond('v')}) && !({f.name} == {self.default_value(f)});")
            out.append(f"    count_ += has_{f.name}_;")
        out.append("    w.write_uvarint(count_);")
        out.append("    auto unknown_ = unknown_tags.begin();")
        for f in tagged:
            out.append(f"    if (has_{f.name}_) {{")
            if f.tag > 0:
                out.append(f"      for (; unknown_ != unknown_tags.end() && unknown_->tag < {f.tag}u; ++unknown_) {{")
                out.append("        w.write_uvarint(unknown_->tag);")
                out.append("        w.write_uvarint(unknown_->data.size());")
                out.append("        w.write_raw(unknown_->data);")
                out.append("      }")
            out.append("      kb::wire::Writer field_;")
            out.append("      {")
            out.append("        auto& w = field_;")
            body = []
            self.write_value(f, f.name, "true", body, 8)
            out += body
            out.append("      }")
            out.append(f"      w.write_uvarint({f.tag}u);")
            out.append("      w.write_uvarint(field_.buffer().size());")
            out.append("      w.write_raw(field_.buffer());")
            out.append("    }")
        out.append("    for (; unknown_ != unknown_tags.end(); ++unknown_) {")
        out.append("      w.write_uvarint(unknown_->tag);")
        out.append("      w.write_uvarint(unknown_->data.size());")
        out.append("      w.write_raw(unknown_->data);")
        out.append("    }")
        out.append("  }")
        out.append("}")
        return out

    # --- decode ----------------------------------------------------------------------
    def read_value(self, f, target, flex, out, ind, qual):
        p = " " * ind
        opt = self.is_optional(f)
        null_ok = f.nullable.cond("v")
        if f.is_array:
            out.append(f"{p}{{")
            out.append(f"{p}  const size_t min_ = {self.elem_min_size(f, qual, flex)};")
            out.append(f"{p}  int32_t n_ = ({flex}) ? r.read_compact_array_length(min_) : r.read_array_length(min_);")
            out.append(f"{p}  if (!r.ok()) return false;")
            if opt:
                out.append(f"{p}  if (n_ < 0) {{ if (!({null_ok})) return false; {target} = std::nullopt; }}")
                out.append(f"{p}  else {{")
                out.append(f"{p}    auto& arr_ = {target}.emplace();")
            else:
                out.append(f"{p}  if (n_ < 0) return false;")
                out.append(f"{p}  {{")
                out.append(f"{p}    auto& arr_ = {target};")
                out.append(f"{p}    arr_.clear();")
            out.append(f"{p}    arr_.reserve(static_cast<size_t>(n_));")
            out.append(f"{p}    for (int32_t i_ = 0; i_ < n_; ++i_) {{")
            out.append(f"{p}      auto& el_ = arr_.emplace_back();")
            self.read_elem(f, "el_", flex, out, ind + 6)
            out.append(f"{p}      if (!r.ok()) return false;")
            out.append(f"{p}    }}")
            out.append(f"{p}  }}")
            out.append(f"{p}}}")
            return
        self.read_elem(f, target, flex, out, ind, opt=opt, null_ok=null_ok)

    def read_elem(self, f, target, flex, out, ind, opt=False, null_ok="false"):
        p = " " * ind
        e = f.elem
        if e in PRIMITIVES:
            out.append(f"{p}{target} = r.read_{e}();")
        elif e in ("string", "bytes"):
            kind = e
            if opt:
                out.append(f"{p}if ({null_ok}) {target} = ({flex}) ? r.read_compact_nullable_{kind}() : r.read_nullable_{kind}();")
                out.append(f"{p}else {target} = ({flex}) ? r.read_compact_{kind}() : r.read_{kind}();")
            else:
                out.append(f"{p}{target} = ({flex}) ? r.read_compact_{kind}() : r.read_{kind}();")
        elif e == "records":
            out.append(f"{p}{target}.decode(r, {flex}, {f.nullable.cond('v')});")
        else:
            out.append(f"{p}if (!{target}.decode(r, v)) return false;")

    def gen_decode(self, qual, fields, top=False):
        out = [f"bool {qual}::decode(kb::wire::Reader& r, int16_t v) {{"]
        out.append(f"  const bool flex = {self.flex_cond()};")
        out.append("  (void)v;")
        out.append("  (void)flex;")
        if top:
            # Fields the version lacks (and tagged fields not sent) read as their defaults even
            # when a struct is decoded twice; nested structs are always fresh.
            out.append(f"  *this = {qual}{{}};")
        for f in fields:
            if f.tag is not None:
                continue
            flex = "false" if f.never_flexible else "flex"
            out.append(f"  if ({f.versions.cond('v')}) {{")
            self.read_value(f, f.name, flex, out, 4, qual)
            out.append("  }")
        tagged = sorted([f for f in fields if f.tag is not None], key=lambda f: f.tag)
        out.append("  unknown_tags.clear();")
        out.append("  if (flex) {")
        out.append("    r.read_tagged_fields([&](uint32_t tag_, kb::wire::Reader& field_) -> bool {")
        out.append("      auto& r = field_;")
        out.append("      (void)r;")
        out.append("      switch (tag_) {")
        for f in tagged:
            out.append(f"        case {f.tag}:")
            out.append(f"          if ({f.versions.cond('v')}) {{")
            body = []
            self.read_value(f, f.name, "true", body, 12, qual)
            out += body
            out.append("            return r.ok();")
            out.append("          }")
            out.append("          break;")
        out.append("        default:")
        out.append("          break;")
        out.append("      }")
        out.append("      auto rest_ = r.read_raw(r.remaining());")
        out.append("      unknown_tags.push_back({tag_, std::vector<uint8_t>(rest_.begin(), rest_.end())});")
        out.append("      return true;")
        out.append("    });")
        out.append("  }")
        out.append("  return r.ok();")
        out.append("}")
        return out

    def gen_bodies(self, qual, fields, top=False):
        out = []
        for f in fields:
            if f.children:
                out += self.gen_bodies(f"{qual}::{f.elem}", f.children)
        out += self.gen_encode(qual, fields)
        out.append("")
        out += self.gen_decode(qual, fields, top)
        out.append("")
        return out

    def check_struct_refs(self, fields):
        for f in fields:
            if f.is_struct_type and not f.children and f.elem not in self.common:
                raise DefError(f"{f.line}: unknown type {f.elem}")
            self.check_struct_refs(f.children)

    def run(self, stem, include_prefix):
        m = self.msg
        self.check_struct_refs(m.fields)
        for _, fields in m.structs:
            self.check_struct_refs(fields)
        h = ["// Generated by protocol/gen/kgen.py from " + stem + ".kmsg. Do not edit.",
             "#pragma once", "", "#include <cstdint>", "#include <optional>", "#include <string>",
             "#include <vector>", "", '#include "protocol/records.h"', '#include "protocol/types.h"',
             '#include "protocol/wire.h"', "", f"namespace {self.ns} {{", ""]
        h += self.declare_struct(m.name, m.fields, 0, top=True)
        h += ["", f"}}  // namespace {self.ns}", ""]
        cc = ["// Generated by protocol/gen/kgen.py from " + stem + ".kmsg. Do not edit.",
              f'#include "{include_prefix}{stem}.h"', "", "#include <cstddef>", "",
              f"namespace {self.ns} {{", "", "namespace {", ""]
        structs = []
        for sname, sfields in m.structs:
            self.struct_quals(f"{m.name}::{sname}", sfields, structs)
        self.struct_quals(m.name, m.fields, structs)
        cc += [f"size_t {self.min_size_fn(q)}(int16_t v);" for q, _ in structs]
        cc.append("")
        for q, fields in structs:
            cc += self.gen_min_size(q, fields)
            cc.append("")
        cc += ["}  // namespace", ""]
        for sname, sfields in m.structs:
            cc += self.gen_bodies(f"{m.name}::{sname}", sfields)
        cc += self.gen_bodies(m.name, m.fields, top=True)
        cc += [f"}}  // namespace {self.ns}", ""]
        return "\n".join(h), "\n".join(cc)


def write_if_changed(path, text):
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    with open(path, "w") as f:
        f.write(text)


def api_table(msgs, ns, include_prefix):
    reqs = sorted([m for m in msgs if m.kind == "request"], key=lambda m: m.api_key)
    h = ["// Generated by protocol/gen/kgen.py. Do not edit.", "#pragma once", "",
         "#include <cstdint>", "#include <string_view>", "#include <vector>", "",
         f"namespace {ns} {{", "",
         "struct ApiKeyInfo {", "  int16_t api_key;", "  std::string_view name;",
         "  int16_t min_version;", "  int16_t max_version;",
         "  int16_t first_flexible_version;  // -1: none", "};", "",
         "// Every request with a definition, by key.",
         "const std::vector<ApiKeyInfo>& api_key_infos();",
         "const ApiKeyInfo* find_api_key(int16_t api_key);",
         "// Request header v2 for flexible versions, v1 otherwise (v0 for ControlledShutdown v0).",
         "int16_t request_header_version(int16_t api_key, int16_t api_version);",
         "// Response header v1 for flexible versions, v0 otherwise; ApiVersions always v0.",
         "int16_t response_header_version(int16_t api_key, int16_t api_version);",
         "// Whether the response body of this version starts with throttle_time_ms (int32), so a",
         "// throttle decided after encoding can be written over its first four bytes.",
         "bool response_leads_with_throttle(int16_t api_key, int16_t api_version);", "",
         f"}}  // namespace {ns}", ""]
    cc = ["// Generated by protocol/gen/kgen.py. Do not edit.",
          f'#include "{include_prefix}api_keys.h"', "", f"namespace {ns} {{", "",
          "const std::vector<ApiKeyInfo>& api_key_infos() {",
          "  static const std::vector<ApiKeyInfo> t = {"]
    for m in reqs:
        ff = -1 if m.flexible.empty() else m.flexible.lo
        name = m.name[:-len("Request")] if m.name.endswith("Request") else m.name
        cc.append(f'      {{{m.api_key}, "{name}", {m.versions.lo}, {m.versions.hi}, {ff}}},')
    cc += ["  };", "  return t;", "}", "",
           "const ApiKeyInfo* find_api_key(int16_t api_key) {",
           "  for (const auto& i : api_key_infos())",
           "    if (i.api_key == api_key) return &i;",
           "  return nullptr;", "}", "",
           "static bool is_flexible(int16_t api_key, int16_t api_version) {",
           "  const ApiKeyInfo* i = find_api_key(api_key);",
           "  return i && i->first_flexible_version >= 0 && api_version >= i->first_flexible_version;",
           "}", "",
           "int16_t request_header_version(int16_t api_key, int16_t api_version) {",
           "  if (api_key == 7 && api_version == 0) return 0;",
           "  return is_flexible(api_key, api_version) ? 2 : 1;", "}", "",
           "int16_t response_header_version(int16_t api_key, int16_t api_version) {",
           "  if (api_key == 18) return 0;",
           "  return is_flexible(api_key, api_version) ? 1 : 0;", "}", ""]
    cc += ["bool response_leads_with_throttle(int16_t api_key, int16_t api_version) {",
           "  switch (api_key) {"]
    for m in sorted([m for m in msgs if m.kind == "response"], key=lambda m: m.api_key):
        lead = [f for f in m.fields if f.tag is None][:1]
        if lead and lead[0].name == "throttle_time_ms" and lead[0].type == "int32":
            cc.append(f"    case {m.api_key}: return {lead[0].versions.cond('api_version')};")
    cc += ["    default: return false;", "  }", "}", "",
           f"}}  // namespace {ns}", ""]
    return "\n".join(h), "\n".join(cc)


class SampleGen:
    """Emits fill() functions that give every field a version carries a sample value (tests)."""

    def __init__(self, msg, gen):
        self.msg = msg
        self.gen = gen

    def structs(self):
        out = []
        for sname, sfields in self.msg.structs:
            self.gen.struct_quals(f"{self.msg.name}::{sname}", sfields, out)
        self.gen.struct_quals(self.msg.name, self.msg.fields, out)
        return out

    def elem_fill(self, f, target, h, nullable, out, p):
        e = f.elem
        if e == "bool":
            out.append(f"{p}{target} = ({h} & 1) != 0;")
        elif e == "float64":
            out.append(f"{p}{target} = static_cast<double>({h} % 100000) / 8.0;")
        elif e == "uuid":
            out.append(f"{p}{target} = sample_uuid({h});")
        elif e in PRIMITIVES:
            out.append(f"{p}{target} = static_cast<{PRIMITIVES[e][0]}>({h});")
        elif e == "string":
            if nullable:
                out.append(f"{p}if (({nullable}) && {h} % 4 == 0) {target} = std::nullopt; else {target} = sample_string({h});")
            else:
                out.append(f"{p}{target} = sample_string({h});")
        elif e == "bytes":
            if nullable:
                out.append(f"{p}if (({nullable}) && {h} % 4 == 0) {target} = std::nullopt; else {target} = sample_bytes({h});")
            else:
                out.append(f"{p}{target} = sample_bytes({h});")
        elif e == "records":
            null = f"({nullable}) && {h} % 4 == 0" if nullable else "false"
            out.append(f"{p}if ({null}) {{ {target}.is_null = true; }} else {{ {target}.bytes = sample_records({h}); }}")
        else:
            out.append(f"{p}fill({target}, v, {h});")

    def gen_fill(self, qual, fields):
        out = [f"inline void fill({qual}& m, int16_t v, uint64_t seed) {{",
               "  (void)v;",
               f"  const bool flex = {self.gen.flex_cond()};",
               "  (void)flex;"]
        for i, f in enumerate(fields):
            cond = f.versions.cond("v")
            if f.tag is not None:
                cond = f"({cond}) && flex"
            nullable = None if f.nullable.empty() else f.nullable.cond("v")
            if not self.gen.is_optional(f) and f.elem != "records":
                nullable = None
            out.append(f"  if ({cond}) {{")
            out.append(f"    const uint64_t h = mix(seed, {i + 1});")
            if f.is_array:
                if nullable:
                    out.append(f"    if (({nullable}) && h % 4 == 0) {{")
                    out.append(f"      m.{f.name} = std::nullopt;")
                    out.append("    } else {")
                    out.append(f"      auto& arr = m.{f.name}.emplace();")
                else:
                    out.append("    {")
                    out.append(f"      auto& arr = m.{f.name};")
                out.append("      arr.resize(h % 3);")
                out.append("      for (size_t i = 0; i < arr.size(); ++i) {")
                self.elem_fill(f, "arr[i]", "mix(h, 100 + i)", None, out, "        ")
                out.append("      }")
                out.append("    }")
            else:
                self.elem_fill(f, f"m.{f.name}", "h", nullable, out, "    ")
            out.append("  }")
        # Unknown tags (sorted, numbered past every known tag) must survive decode and encode.
        top_tag = max([f.tag for f in fields if f.tag is not None], default=-1)
        out.append("  if (flex && seed % 3 == 1) {")
        out.append(f"    m.unknown_tags.push_back({{{top_tag + 1 + 3}u, sample_bytes(seed)}});")
        out.append(f"    m.unknown_tags.push_back({{{top_tag + 1 + 200}u, {{}}}});")
        out.append("  }")
        out.append("}")
        return out


def samples_header(msgs, stems, ns, include_prefix):
    h = ["// Generated by protocol/gen/kgen.py. Do not edit.",
         "// Test support: fill(message, version, seed) gives every field the version carries a",
         "// value derived from the seed (nulls, empty and long strings, 0-2 array elements, unknown",
         "// tags), so a test can check that decode(encode(m)) == m for every message and version.",
         "#pragma once", "", "#include <array>", "#include <cstdint>", "#include <span>",
         "#include <string>", "#include <tuple>", "#include <vector>", ""]
    h += [f'#include "{include_prefix}{stem}.h"' for stem in stems]
    h += ["", f"namespace {ns}::samples {{", "",
          "inline uint64_t mix(uint64_t seed, uint64_t salt) {",
          "  uint64_t z = seed * 0x9E3779B97F4A7C15ull + salt * 0xBF58476D1CE4E5B9ull + 1;",
          "  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;",
          "  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;",
          "  return z ^ (z >> 31);",
          "}",
          "",
          "// Lengths 0, 5 and 200 cover empty values and varint lengths of one and two bytes.",
          "inline size_t sample_length(uint64_t h) {",
          "  static constexpr size_t kLengths[] = {0, 5, 200};",
          "  return kLengths[(h >> 8) % 3];",
          "}",
          "inline std::string sample_string(uint64_t h) {",
          "  std::string s(sample_length(h), 'a');",
          "  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>('a' + mix(h, i) % 26);",
          "  return s;",
          "}",
          "inline std::vector<uint8_t> sample_bytes(uint64_t h) {",
          "  std::vector<uint8_t> b(sample_length(h));",
          "  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(mix(h, i));",
          "  return b;",
          "}",
          "// Records are opaque to the message codecs; any bytes will do. The view is static.",
          "inline std::span<const uint8_t> sample_records(uint64_t h) {",
          "  static const std::array<uint8_t, 300> kBytes = [] {",
          "    std::array<uint8_t, 300> a{};",
          "    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 7 + 3);",
          "    return a;",
          "  }();",
          "  return std::span<const uint8_t>(kBytes.data(), sample_length(h) == 5 ? 61 : sample_length(h));",
          "}",
          "inline kb::Uuid sample_uuid(uint64_t h) {",
          "  kb::Uuid u;",
          "  for (int i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(mix(h, i));",
          "  return u;",
          "}",
          ""]
    fills = []
    for m in msgs:
        g = Gen(m, ns)
        sg = SampleGen(m, g)
        for q, fields in sg.structs():
            h.append(f"inline void fill({q}& m, int16_t v, uint64_t seed);")
            fills += sg.gen_fill(q, fields)
            fills.append("")
    h.append("")
    h += fills
    h.append("// Every message with a definition, for tests that iterate over all of them.")
    h.append("using AllMessages = std::tuple<" + ", ".join(m.name for m in msgs) + ">;")
    h.append("using AllRequests = std::tuple<" +
             ", ".join(m.name for m in msgs if m.kind == "request") + ">;")
    h += ["", f"}}  // namespace {ns}::samples", ""]
    return "\n".join(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--namespace", default="kb::msg")
    ap.add_argument("--include-prefix", default="protocol/messages/")
    ap.add_argument("--api-table", action="store_true")
    ap.add_argument("--samples", action="store_true",
                    help="also write message_samples.h (fill() for tests)")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    msgs = []
    stems = []
    try:
        for path in a.files:
            stem = os.path.splitext(os.path.basename(path))[0]
            m = parse(path)
            if camel_to_snake(m.name) != stem:
                raise DefError(f"{path}: file must be named {camel_to_snake(m.name)}.kmsg")
            msgs.append(m)
            stems.append(stem)
            h, cc = Gen(m, a.namespace).run(stem, a.include_prefix)
            write_if_changed(os.path.join(a.out, stem + ".h"), h)
            write_if_changed(os.path.join(a.out, stem + ".cc"), cc)
        if a.samples:
            write_if_changed(os.path.join(a.out, "message_samples.h"),
                             samples_header(msgs, stems, a.namespace, a.include_prefix))
        if a.api_table:
            h, cc = api_table(msgs, a.namespace, a.include_prefix)
            write_if_changed(os.path.join(a.out, "api_keys.h"), h)
            write_if_changed(os.path.join(a.out, "api_keys.cc"), cc)
    except DefError as e:
        print(f"kgen: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

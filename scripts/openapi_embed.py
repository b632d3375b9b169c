#!/usr/bin/env python3
"""Turns api/openapi.yaml into a C file holding its JSON, which dfly-control serves at
/v1/openapi.json. Run by the build (controlplane/CMakeLists.txt): the YAML is the one source.

    openapi_embed.py api/openapi.yaml out.c
"""
import json
import sys

import yaml


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=True, sort_keys=False)
    data = text.encode("ascii")
    lines = ["/* Generated from api/openapi.yaml by scripts/openapi_embed.py: do not edit. */",
             "#include <stddef.h>", "", "const char openapi_json[] = {"]
    for i in range(0, len(data), 16):
        lines.append("    " + ", ".join(str(b) for b in data[i:i + 16]) + ",")
    lines.append("    0};")
    lines.append(f"const size_t openapi_json_len = {len(data)};")
    with open(dst, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

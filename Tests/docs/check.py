#!/usr/bin/env python3
"""Keeps the docs true (run by Tests/run.sh):
  1. every option that `ddplm SUB --help` prints has a row in docs/options.md under `## ddplm SUB`, and
     every row there names an option that SUB has;
  2. every repository path named in README.md, CHANGELOG.md and docs/*.md (in backticks or as a link) exists;
  3. every relative link resolves, to a file and, with #anchor, to a heading of it.
Prints one line per problem, then "docs: N passed, N failed".
  Tests/docs/check.py [path/to/ddplm]"""
import glob, os, re, subprocess, sys

root = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.chdir(root)
binary = sys.argv[1] if len(sys.argv) > 1 else ".build/release/ddplm"
SUBCOMMANDS = ["train", "classify train", "classify eval", "classify predict", "eval", "generate", "plot",
               "bench", "compare", "info"]
TOP = ("Sources/", "Tests/", "launch/", "hostfiles/", "docs/", "data/", "proto/", ".ci/")
FILES = ("README.md", "LICENSE", "CHANGELOG.md", "Package.swift", ".gitignore")
passed, failed = 0, 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL - " + what)


def help_options(sub):
    out = subprocess.run([binary, *sub.split(), "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    opts = set()
    for line in out.stdout.splitlines():
        m = re.match(r"\s+(?:-\w, )?(--[a-z0-9][a-z0-9-]*)", line)
        if m:
            opts.add(m.group(1))
    opts -= {"--help", "--version"}
    if not opts and out.returncode != 0:
        check(False, f"`ddplm {sub} --help` failed: {out.stderr.strip()}")
    return opts


def documented_options(text):
    """{subcommand: set of options} from the tables under `## ddplm SUB` headings."""
    sections, current = {}, None
    for line in text.splitlines():
        h = re.match(r"#+\s+`?ddplm ([a-z ]+?)`?\s*$", line)
        if h:
            current = h.group(1).strip()
            sections.setdefault(current, set())
            continue
        if current and line.startswith("|"):
            first = line.split("|")[1]
            m = re.search(r"`(--[a-z0-9][a-z0-9-]*)", first)
            if m:
                sections[current].add(m.group(1))
    return sections


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    seen, out = {}, set()
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            base = slug(re.sub(r"`|\[|\]\([^)]*\)", "", m.group(1)))
            n = seen.get(base, 0)
            out.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
    return out


# 1. options
if os.access(binary, os.X_OK) and os.path.exists("docs/options.md"):
    docs = documented_options(open("docs/options.md", encoding="utf-8").read())
    for sub in SUBCOMMANDS:
        have = help_options(sub)
        doc = docs.get(sub)
        check(doc is not None, f"docs/options.md has no `## ddplm {sub}` section")
        if doc is None:
            continue
        for o in sorted(have - doc):
            check(False, f"docs/options.md: `ddplm {sub}` has {o}, which the page does not list")
        for o in sorted(doc - have):
            check(False, f"docs/options.md: lists {o} under `ddplm {sub}`, which has no such option")
        check(have == doc, f"docs/options.md: `ddplm {sub}` options match --help ({len(have)})")
    for sub in sorted(set(docs) - set(SUBCOMMANDS)):
        check(False, f"docs/options.md: a section for `ddplm {sub}`, which is not a subcommand this check knows")
else:
    check(False, f"no ddplm binary at {binary} or no docs/options.md")

# 2 and 3. paths and links
pages = ["README.md", "CHANGELOG.md"] + sorted(glob.glob("docs/*.md"))
for page in pages:
    if not os.path.exists(page):
        check(False, f"{page} does not exist")
        continue
    text = open(page, encoding="utf-8").read()
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    here = os.path.dirname(page)
    for m in re.finditer(r"`([^`\s]+)`", prose):
        p = m.group(1).rstrip(".,:;)")
        p = re.sub(r":\d+(-\d+)?$", "", p)
        if not (p.startswith(TOP) or p in FILES) or any(c in p for c in "*{}<>$[]") or "..." in p or "…" in p:
            continue
        check(os.path.exists(p), f"{page}: names `{p}`, which does not exist")
    for m in re.finditer(r"\]\(([^)\s]+)\)", prose):
        target = m.group(1)
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = os.path.normpath(os.path.join(here, file)) if file else page
        if not os.path.exists(path):
            check(False, f"{page}: link ({target}) points to {path}, which does not exist")
            continue
        if anchor and path.endswith(".md"):
            check(anchor in anchors(path), f"{page}: link ({target}): {path} has no heading #{anchor}")
        else:
            check(True, "")

print(f"docs: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

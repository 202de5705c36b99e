"""The repository explains itself: every link in its Markdown resolves inside it, nothing names a file outside
it, every `API.md §N` citation names a section of docs/api-guide.md, and the README alone tells a caller how to
authenticate, page, retry safely and operate in bulk, and where the guide, /openapi.json and /docs are.
"""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "api-guide.md"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Paths that only exist beside the repository on a developer's machine: the contract, the seeds, the workplace.
OUTSIDE = re.compile(r"\.\./shared\b|\bshared/(API|STYLE)\.md|\bseeds/\d|/work/(shared|main|wt)\b")
CITATION = re.compile(r"API\.md §(\d+)")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".json", ".cfg", ".ini", ".sh", ".yml", ".yaml", ""}


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    paths = [ROOT / name for name in listed.decode().split("\0") if name]
    return [path for path in paths if path.is_file() and path.suffix in TEXT_SUFFIXES]


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in markdown.read_text().splitlines() if line.startswith("#")}


def test_every_relative_link_in_the_markdown_resolves_inside_the_repository():
    broken = []
    for document in (path for path in tracked_files() if path.suffix == ".md"):
        for target in LINK.findall(document.read_text()):
            if re.match(r"[a-z]+:", target):       # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            resolved = (document.parent / path).resolve() if path else document
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, broken


def test_nothing_in_the_repository_names_a_file_outside_it():
    outside = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path in tracked_files()
               if path != Path(__file__)
               for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1) if OUTSIDE.search(line)]
    assert not outside, outside


def test_every_contract_citation_names_a_section_of_the_api_guide():
    sections = {int(m) for m in re.findall(r"^## (\d+)\. ", GUIDE.read_text(), re.MULTILINE)}
    assert sections == set(range(1, 12))
    cited = {int(n) for path in tracked_files() for n in CITATION.findall(path.read_text(errors="replace"))}
    assert cited and cited <= sections, cited - sections


def test_the_readme_alone_says_how_to_authenticate_page_retry_and_operate_in_bulk():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/api-guide.md)" in readme and "/openapi.json" in readme and "/docs" in readme
    essentials = {"authenticate": "Authorization: Bearer", "page": "`cursor`", "retry": "Idempotency-Key",
                  "back off": "Retry-After", "concurrency": "If-Match", "bulk": "POST /bulk_operations/"}
    missing = [what for what, words in essentials.items() if words not in readme]
    assert not missing, missing

"""Load Kubernetes objects from YAML/JSON files, directories and stdin.

Speed matters (``raygate lint`` should cost little more than parsing), so documents are
composed by libyaml's C parser and constructed once, and the composed nodes are dropped. Each
object keeps only where its document lies in the text; when a finding first asks for a field's
line, that one document is composed again (``_LazyNode``). Most objects never need it.

Robustness matters as much: a syntax error, an alias bomb, absurd nesting or a huge file is
reported with file and line and the rest of the input is still read. When a multi-document
stream fails to parse, the stream is re-read document by document so one broken document does
not hide its neighbours.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import yaml

from raygate.objects import KubeObject, Origin
from raygate.sources import InputProblem, LoadResult, no_cyclic_gc

#: Files larger than this are refused (a lint input this big is a mistake, not a manifest).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: How many nodes a document may expand to through YAML aliases before it is called a bomb.
MAX_ALIAS_EXPANSION = 200_000
#: Deeper nesting than this is refused before Python's recursion limit is anywhere near.
MAX_DEPTH = 200
SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


#: Tags of plain scalars already resolved (value -> tag), shared by every _KubeLoader. A
#: manifest repeats the same keys and values ("name", "v1", "true", "8265") over and over;
#: bounded so a file of unique scalars cannot grow it without end.
_TAGS: dict[str, str] = {}
_TAGS_MAX = 100_000


class _KubeLoader(_Loader):  # type: ignore[misc,valid-type]
    """SafeLoader without timestamp conversion: Kubernetes keeps dates as strings.

    libyaml calls ``resolve`` (Python) for every node; PyYAML's runs the implicit resolvers'
    regexes on every plain scalar (a third of composing a manifest). This one gives each
    scalar the same tag, remembering the answer per distinct value, and its path-resolver
    hooks do nothing, as PyYAML's do when no path resolver is registered (none are here).
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            if not implicit[0]:  # quoted or block scalar: a string
                return _STR
            tag = _TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_TAGS) < _TAGS_MAX:
                    _TAGS[value] = tag
            return tag
        return _SEQ if kind is yaml.SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


_KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}
assert not _KubeLoader.yaml_path_resolvers, "the resolver hooks above assume no path resolvers"


class _LineLoader(_KubeLoader):  # type: ignore[misc,valid-type]
    """Composes a document only for its marks (field lines): every node gets a plain tag
    instead of running the implicit resolvers on each scalar, which were most of the cost of
    a finding's line (~70% of composing a document)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return _STR if kind is yaml.ScalarNode else (
            _SEQ if kind is yaml.SequenceNode else _MAP)


_DOC_SPLIT = re.compile(r"^---(?=[ \t]|$)", re.MULTILINE)
_ANCHOR = re.compile(r"&[^\s&]")


def load_paths(paths: Sequence[str], *, stdin_text: str | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES,
               on_file: Callable[[str, int], None] | None = None) -> LoadResult:
    """Load every path (file, directory walked recursively, or ``-`` for stdin).

    ``on_file(name, size)`` is called before each file is read (the CLI shows progress on
    inputs that take a while). Helm chart and kustomize directories are not walked as plain
    YAML (their files are templates and patches, not objects): they are rendered when
    ``helm`` / ``kustomize`` (or ``kubectl kustomize``) is installed, else skipped with the
    command to pipe.
    """
    with no_cyclic_gc():
        return _load_paths(paths, stdin_text, max_bytes, on_file)


def missing_paths(paths: Sequence[str]) -> list[str]:
    """The inputs that do not exist (checked before anything is read or reported)."""
    return [p for p in paths if p != STDIN and not Path(p).exists()]


def _load_paths(paths: Sequence[str], stdin_text: str | None, max_bytes: int,
                on_file: Callable[[str, int], None] | None) -> LoadResult:
    result = LoadResult()
    for path in paths:
        if path == STDIN:
            if on_file:
                on_file("stdin", 0)
            text = stdin_text if stdin_text is not None else sys.stdin.read()
            result.files.append(STDIN)
            if not text.strip():
                result.notices.append("-: stdin was empty (did the command before the pipe "
                                      "fail? `set -o pipefail` makes CI say so)")
                continue
            result.extend(load_text(text, STDIN))
            continue
        p = Path(path)
        if p.is_dir():
            before = len(result.files)
            for f, bundle in sorted(_walk(p), key=lambda item: item[0]):
                if bundle is not None:
                    result.extend(_load_bundle(f, bundle, max_bytes))
                    continue
                if on_file:
                    try:
                        on_file(str(f), f.stat().st_size)
                    except OSError:
                        pass
                result.extend(load_file(f, max_bytes=max_bytes))
            if len(result.files) == before and not any(n.startswith(f"{path}") for n in result.notices):
                result.notices.append(f"{path}: no *.yaml, *.yml or *.json files found")
        elif p.is_file():
            if on_file:
                on_file(path, p.stat().st_size)
            result.extend(load_file(p, max_bytes=max_bytes))
        else:
            result.problems.append(InputProblem(path, None, "no such file or directory"))
    return result


#: Directory markers of sources that must be rendered before they are Kubernetes objects.
HELM_CHART = "Chart.yaml"
KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def bundle_kind(directory: Path) -> str | None:
    """``"helm"`` for a chart directory, ``"kustomize"`` for a kustomization, else None."""
    if (directory / HELM_CHART).is_file():
        return "helm"
    if any((directory / name).is_file() for name in KUSTOMIZATION):
        return "kustomize"
    return None


def render_command(kind: str, directory: Path) -> list[str] | None:
    """The installed command that renders ``directory``, or None when no tool is on PATH."""
    import shutil

    if kind == "helm":
        return ["helm", "template", str(directory)] if shutil.which("helm") else None
    if shutil.which("kustomize"):
        return ["kustomize", "build", str(directory)]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize", str(directory)]
    return None


def _pipe_hint(kind: str, directory: Path) -> str:
    if kind == "helm":
        return f"helm template {directory} | raygate lint -"
    return f"kustomize build {directory} | raygate lint -"


#: A render that takes longer than this is stuck (a remote base, a chart dependency fetch).
RENDER_TIMEOUT_S = 120


def _load_bundle(directory: Path, kind: str, max_bytes: int) -> LoadResult:
    """Render a Helm chart or kustomization with the installed tool, or say how to."""
    name = str(directory)
    label = "Helm chart" if kind == "helm" else "kustomize directory"
    command = render_command(kind, directory)
    if command is None:
        tool = "helm" if kind == "helm" else "kustomize or kubectl"
        return LoadResult(notices=[
            f"{name}: skipped, a {label} holds templates, not objects, and {tool} is not "
            f"installed to render it; run `{_pipe_hint(kind, directory)}`"])
    import subprocess

    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return LoadResult(problems=[InputProblem(name, None, f"`{' '.join(command)}` failed: {e}")])
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return LoadResult(problems=[InputProblem(
            name, None, f"`{' '.join(command)}` exited {proc.returncode}: {last}")])
    if len(proc.stdout) > max_bytes:
        return LoadResult(problems=[InputProblem(
            name, None, f"rendered {label} is over the {max_bytes:,}-byte limit")])
    loaded = load_text(proc.stdout, f"{name} ({' '.join(command[:2])})")
    loaded.notices.insert(0, f"{name}: rendered the {label} with `{' '.join(command)}`")
    return loaded


def _walk(root: Path) -> Iterable[tuple[Path, str | None]]:
    """Manifest files under ``root`` in sorted order, and chart/kustomize directories whole."""
    kind = bundle_kind(root)
    if kind:
        yield root, kind
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        keep = []
        for d in dirnames:
            if d.startswith("."):
                continue
            sub = Path(dirpath, d)
            sub_kind = bundle_kind(sub)
            if sub_kind:
                yield sub, sub_kind
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            # Hidden files are tool configs (.raygate.yaml itself, .pre-commit-config.yaml),
            # not manifests, as hidden directories are skipped above; name one to lint it.
            if name.endswith(SUFFIXES) and not name.startswith("."):
                yield Path(dirpath, name), None


def load_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return LoadResult(problems=[InputProblem(
                name, None, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit "
                "(raise it with --max-file-size if this really is one manifest stream)")],
                files=[name])
        data = path.read_bytes()
    except OSError as e:
        return LoadResult(problems=[InputProblem(name, None, f"cannot read: {e.strerror}")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return LoadResult(problems=[InputProblem(name, line, "not UTF-8 text")], files=[name])
    return load_text(text, name)


def load_text(text: str, file: str) -> LoadResult:
    """Parse a whole YAML/JSON stream; on a syntax error, salvage the other documents."""
    result = LoadResult(files=[file])
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        result.problems.append(InputProblem(file, line, "binary data (NUL byte), not YAML or JSON"))
        return result
    try:
        _parse_stream(text, file, 0, 0, result)
    except _StreamError:
        # Re-read document by document, so one broken document loses only itself.
        result.objects.clear()
        result.notices.clear()
        offset_line, index = 0, 0
        for chunk in _split_documents(text):
            try:
                _parse_stream(chunk, file, offset_line, index, result)
            except _StreamError as e:
                result.problems.append(e.problem)
            index += 1
            offset_line += chunk.count("\n")
    return result


class _StreamError(Exception):
    def __init__(self, problem: InputProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _split_documents(text: str) -> list[str]:
    starts = [m.start() for m in _DOC_SPLIT.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    starts.append(len(text))
    return [text[a:b] for a, b in zip(starts, starts[1:]) if a != b]


def _parse_stream(text: str, file: str, line_offset: int, doc_offset: int,
                  result: LoadResult) -> None:
    loader = _KubeLoader(text)
    check_aliases = _ANCHOR.search(text) is not None
    index = doc_offset
    empty = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                empty += 1
                index += 1
                continue
            line = node.start_mark.line + 1 + line_offset
            # libyaml itself caps nesting at 1000 levels; only anchors can make a small
            # document huge, so the (costly) walk runs only when the text has anchors.
            depth_problem = _check_shape(node) if check_aliases else None
            if depth_problem:
                result.problems.append(InputProblem(file, line, depth_problem))
                index += 1
                continue
            doc = _construct(loader, node)
            locator = _DocLocator(text, node.start_mark.index, node.end_mark.index,
                                  node.start_mark.line + line_offset, node.start_mark.column)
            _collect(doc, node, locator, (), Origin(file, index, line), result, line_offset)
            index += 1
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = (mark.line + 1 + line_offset) if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        if "{{" in text:
            result.notices.append(f"{file}: skipped, looks like an unrendered Helm/Go template "
                                  "(lint the output of `helm template` instead)")
            return
        raise _StreamError(InputProblem(file, line, f"invalid YAML: {problem}")) from None
    except RecursionError:
        raise _StreamError(InputProblem(file, None, "nesting too deep to be a manifest")) from None
    finally:
        loader.dispose()
    if empty and index - doc_offset == empty:
        result.notices.append(f"{file}: no documents (empty)")


_SCALAR_BUILDERS = {
    "tag:yaml.org,2002:int": "construct_yaml_int",
    "tag:yaml.org,2002:float": "construct_yaml_float",
    "tag:yaml.org,2002:bool": "construct_yaml_bool",
    "tag:yaml.org,2002:null": "construct_yaml_null",
}


class _Unusual(Exception):
    """A document uses a YAML feature the fast builder leaves to PyYAML (merge keys, tags)."""


def _construct(loader: Any, node: Any) -> Any:
    """Build Python data from a composed node, as SafeLoader would, but faster.

    PyYAML's generic constructor (generators, per-node state) costs more than libyaml's
    parsing. Manifests use only maps, sequences and plain scalars, so those are built
    directly here (aliases keep sharing one object, as in PyYAML); any other tag or a merge
    key hands the document to PyYAML's own constructor, so results never differ.
    """
    try:
        return _build(loader, node, {})
    except _Unusual:
        return loader.construct_document(node)


def _build(loader: Any, node: Any, memo: dict[int, Any]) -> Any:
    tag = node.tag
    if node.id == "scalar":
        if tag == _STR:
            return node.value
        method = _SCALAR_BUILDERS.get(tag)
        if method is None:
            raise _Unusual(tag)
        return getattr(loader, method)(node)
    key = id(node)
    if key in memo:
        return memo[key]
    # Plain string scalars (most keys and values) are taken inline: one call per node was
    # a third of building a manifest.
    if node.id == "sequence":
        if tag != _SEQ:
            raise _Unusual(tag)
        items: list[Any] = []
        memo[key] = items
        for child in node.value:
            items.append(child.value if child.tag == _STR and child.id == "scalar"
                         else _build(loader, child, memo))
        return items
    if tag != _MAP:
        raise _Unusual(tag)
    mapping: dict[Any, Any] = {}
    memo[key] = mapping
    for key_node, value_node in node.value:
        key_tag = key_node.tag
        if key_tag == _STR and key_node.id == "scalar":
            k = key_node.value
        elif key_tag == "tag:yaml.org,2002:merge":
            raise _Unusual("merge")
        else:
            k = _build(loader, key_node, memo)
        v = value_node.value if value_node.tag == _STR and value_node.id == "scalar" \
            else _build(loader, value_node, memo)
        try:
            mapping[k] = v
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key",
                key_node.start_mark) from None
    return mapping


def _check_shape(root: Any) -> str | None:
    """Refuse alias bombs and absurd nesting before constructing Python objects."""
    budget = MAX_ALIAS_EXPANSION
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nesting deeper than {MAX_DEPTH} levels; refusing to read it"
        budget -= 1
        if budget < 0:
            return (f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION:,} nodes "
                    "(an alias bomb?); refusing to read it")
        if node.id == "mapping":
            for k, v in node.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif node.id == "sequence":
            stack.extend((child, depth + 1) for child in node.value)
    return None


def _collect(doc: Any, node: Any, locator: "_DocLocator", prefix: tuple[Any, ...],
             origin: Origin, result: LoadResult, line_offset: int) -> None:
    if doc is None:
        return
    where = f"{origin.file}:{origin.line}"
    if not isinstance(doc, dict):
        result.notices.append(f"{where}: skipped a {type(doc).__name__} document, "
                              "not a Kubernetes object")
        return
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        items_node = _mapping_value(node, "items")
        for i, item in enumerate(doc["items"]):
            item_node = items_node.value[i] if items_node is not None else None
            line = item_node.start_mark.line + 1 + line_offset if item_node is not None else origin.line
            _collect(item, item_node, locator, prefix + ("items", i),
                     Origin(origin.file, origin.doc_index, line), result, line_offset)
        return
    if not isinstance(doc.get("apiVersion"), str) or not isinstance(kind, str):
        result.notices.append(f"{where}: skipped a document without apiVersion and kind")
        return
    meta = doc.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        result.problems.append(InputProblem(origin.file, origin.line,
                                            "metadata must be a mapping", obj=kind))
        return
    result.objects.append(KubeObject(doc, origin, _LazyNode(locator, prefix)))


def _mapping_value(node: Any, key: str) -> Any:
    if node is None or node.id != "mapping":
        return None
    for k, v in node.value:
        if getattr(k, "value", None) == key and v.id == "sequence":
            return v
    return None


class _DocLocator:
    """Where one document lies in its text, to compose it again only when lines are needed."""

    __slots__ = ("_text", "_start", "_end", "_line", "_column", "_root")

    def __init__(self, text: str, start: int, end: int, line: int, column: int) -> None:
        self._text, self._start, self._end = text, start, end
        self._line, self._column = line, column
        self._root: Any = None

    def root(self) -> Any:
        if self._root is None:
            # Pad so marks in the re-composed slice carry the original line numbers.
            chunk = "\n" * self._line + " " * self._column + self._text[self._start:self._end]
            loader = _LineLoader(chunk)
            try:
                self._root = loader.get_single_node()
            except yaml.YAMLError:  # cannot happen for text that parsed once; stay safe
                self._root = False
            finally:
                loader.dispose()
            self._text = ""  # the node tree replaces the text reference
        return self._root or None


class _LazyNode:
    """Stands in for an object's YAML node until a field line is asked for."""

    __slots__ = ("_locator", "_prefix")

    def __init__(self, locator: _DocLocator, prefix: tuple[Any, ...]) -> None:
        self._locator, self._prefix = locator, prefix

    def resolve(self) -> Any:
        node = self._locator.root()
        for part in self._prefix:
            if node is None:
                return None
            if isinstance(part, int):
                node = node.value[part] if node.id == "sequence" and part < len(node.value) else None
            else:
                node = next((v for k, v in node.value if getattr(k, "value", None) == part), None) \
                    if node.id == "mapping" else None
        return node

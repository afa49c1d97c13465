"""Kubernetes objects as raygate sees them: a plain dict plus where it came from.

``KubeObject`` wraps the decoded manifest and an ``Origin`` (file, document index, line, or a
live cluster's uid/resourceVersion). When the object came from YAML, the composed node tree is
kept so a finding can point at the exact line of any field path, computed only on demand.

``ObjectSet`` is the immutable, indexed collection every rule receives. Rules look other objects
up through it (the Service a tcp-services entry names, the Nodes a nodeSelector matches) but
only ever report on the object they were handed.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, Sequence, Union

from raygate.records import field, record

PathPart = Union[str, int]
FieldPath = tuple[PathPart, ...]

#: Kinds that live in a namespace; everything else found in inputs is treated as cluster-scoped.
CLUSTER_SCOPED_KINDS = frozenset({
    "Node", "Namespace", "IngressClass", "GatewayClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "PersistentVolume", "StorageClass", "PriorityClass",
})


def format_path(path: Sequence[PathPart]) -> str:
    """Render ``("spec", "rules", 0, "host")`` as ``spec.rules[0].host``.

    Keys that are not plain identifiers (annotation keys, ports like ``"10001"``) are quoted
    in brackets so the path stays unambiguous: ``metadata.annotations["a.b/c"]``.
    """
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part and all(c.isalnum() or c in "_-" for c in part) and not part[0].isdigit():
            out.append(("." if out else "") + part)
        else:
            out.append(f'["{part}"]')
    return "".join(out)


class cached_property:  # noqa: N801 - a drop-in for functools.cached_property
    """Compute once, then serve from the instance ``__dict__``.

    functools.cached_property takes a lock on every first access (Python < 3.12); with
    hundreds of thousands of objects that lock was a visible share of doctor's run time.
    Objects are built and read by one thread, so the lock buys nothing here.
    """

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


@record(frozen=True)
class Origin:
    """Where an object came from.

    ``file`` is a path (or ``-`` for stdin, ``cluster:<context>`` for live objects);
    ``doc_index`` counts documents in the file from 0, and ``line`` is 1-based.
    """

    file: str
    doc_index: int = 0
    line: int = 1
    uid: str | None = None
    resource_version: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@record(frozen=True, eq=False)
class KubeObject:
    """One Kubernetes object. ``raw`` is never mutated after loading, which is what lets the
    accessors below be cached: rules call them millions of times on large clusters."""

    raw: Mapping[str, Any]
    origin: Origin
    # The YAML node of this object (or None for JSON/live objects); used for field lines.
    node: Any = field(default=None, repr=False)

    @classmethod
    def listed(cls, raw: Mapping[str, Any], origin: Origin, kind: str,
               api_version: str) -> "KubeObject":
        """An object from a LIST of ``kind``: the identity is known, so it is stored rather
        than recomputed (indexing tens of thousands of live objects is on doctor's hot path)."""
        obj = cls(raw, origin)
        cache = obj.__dict__
        cache["kind"] = kind
        cache["api_version"] = api_version
        meta = raw.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        cache["metadata"] = meta
        name = meta.get("name")
        cache["name"] = name if isinstance(name, str) else ""
        return obj

    @cached_property
    def api_version(self) -> str:
        value = self.raw.get("apiVersion")
        return value if isinstance(value, str) else ""

    @cached_property
    def kind(self) -> str:
        value = self.raw.get("kind")
        return value if isinstance(value, str) else ""

    @property
    def group(self) -> str:
        """The API group (``""`` for core, ``networking.k8s.io`` for Ingress)."""
        return self.api_version.rpartition("/")[0]

    @cached_property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.raw.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @cached_property
    def name(self) -> str:
        value = self.metadata.get("name")
        return value if isinstance(value, str) else ""

    @cached_property
    def namespace(self) -> str:
        """The namespace, ``"default"`` when a namespaced object names none (as kubectl does)."""
        if self.kind in CLUSTER_SCOPED_KINDS:
            return ""
        value = self.metadata.get("namespace")
        return value if isinstance(value, str) and value else "default"

    @cached_property
    def labels(self) -> Mapping[str, str]:
        value = self.metadata.get("labels")
        return value if isinstance(value, dict) else {}

    @cached_property
    def annotations(self) -> Mapping[str, Any]:
        value = self.metadata.get("annotations")
        return value if isinstance(value, dict) else {}

    @cached_property
    def spec(self) -> Mapping[str, Any]:
        value = self.raw.get("spec")
        return value if isinstance(value, dict) else {}

    @cached_property
    def status(self) -> Mapping[str, Any]:
        value = self.raw.get("status")
        return value if isinstance(value, dict) else {}

    @property
    def ref(self) -> str:
        """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped), for messages."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    def get(self, *path: PathPart, default: Any = None) -> Any:
        """Follow ``path`` through dicts and lists; ``default`` when any step is missing."""
        cur: Any = self.raw
        for part in path:
            if isinstance(part, int):
                if not isinstance(cur, list) or not -len(cur) <= part < len(cur):
                    return default
            elif not isinstance(cur, dict) or part not in cur:
                return default
            cur = cur[part]
        return cur

    def line_of(self, path: Sequence[PathPart]) -> int:
        """The 1-based line of the deepest node along ``path`` that exists in the source.

        Falls back to the object's own line, so a finding always has a line.
        """
        return self.position_of(path)[0]

    def position_of(self, path: Sequence[PathPart]) -> tuple[int, int]:
        """1-based (line, column) of the deepest node along ``path`` (see ``line_of``);
        column 0 (unknown) when only the object's own line is known."""
        node = self.node
        line, column = self.origin.line, 0
        resolve = getattr(node, "resolve", None)
        if callable(resolve):  # a lazily composed node (see sources/files.py)
            node = resolve()
        if node is None:
            return line, column
        for part in path:
            node = _child_node(node, part)
            if node is None:
                break
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        return line, column


def _child_node(node: Any, part: PathPart) -> Any:
    """The YAML node for ``part`` under ``node`` (the key node for a mapping entry's line)."""
    value = getattr(node, "value", None)
    if isinstance(part, int):
        if isinstance(value, list) and node.id == "sequence" and 0 <= part < len(value):
            return value[part]
        return None
    if isinstance(value, list) and node.id == "mapping":
        for key_node, value_node in value:
            if getattr(key_node, "value", None) == part:
                # Scalars point at the key (that is the line users look for); collections
                # point at their key too, and deeper parts walk into the value.
                return _KeyedNode(key_node, value_node)
    if isinstance(node, _KeyedNode):
        return _child_node(node.value_node, part)
    return None


class _KeyedNode:
    """A mapping value that reports its key's line but walks into its value."""

    __slots__ = ("key_node", "value_node", "start_mark", "id", "value")

    def __init__(self, key_node: Any, value_node: Any) -> None:
        self.key_node = key_node
        self.value_node = value_node
        self.start_mark = key_node.start_mark
        self.id = value_node.id
        self.value = value_node.value


def matches_selector(labels: Mapping[str, Any], selector: Mapping[str, Any] | None) -> bool:
    """Whether ``labels`` satisfy an equality selector (nodeSelector, Service selector)."""
    if not selector:
        return False
    return all(str(labels.get(k)) == str(v) and k in labels for k, v in selector.items())


def matches_label_selector(labels: Mapping[str, Any], selector: Mapping[str, Any] | None) -> bool:
    """Whether ``labels`` satisfy a ``LabelSelector`` (``matchLabels`` + ``matchExpressions``)."""
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels") or {}
    if match_labels and not matches_selector(labels, match_labels):
        return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            return False
        key, op = expr.get("key"), expr.get("operator")
        values = [str(v) for v in expr.get("values") or []]
        present = key in labels
        if op == "In" and not (present and str(labels[key]) in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return bool(match_labels or selector.get("matchExpressions"))


class ObjectSet:
    """An immutable, indexed set of objects: by kind, and by (kind, namespace, name)."""

    def __init__(self, objects: Iterable[KubeObject]) -> None:
        self._objects: tuple[KubeObject, ...] = tuple(objects)
        by_kind: dict[str, list[KubeObject]] = {}
        by_key: dict[tuple[str, str, str], KubeObject] = {}
        for obj in self._objects:
            by_kind.setdefault(obj.kind, []).append(obj)
            by_key.setdefault((obj.kind, obj.namespace, obj.name), obj)
        self._by_kind = {k: tuple(v) for k, v in by_kind.items()}
        self._by_key = by_key
        self._cache: dict[str, Any] = {}

    def __iter__(self) -> Iterator[KubeObject]:
        return iter(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def of_kind(self, *kinds: str) -> tuple[KubeObject, ...]:
        if len(kinds) == 1:
            return self._by_kind.get(kinds[0], ())
        return tuple(o for k in kinds for o in self._by_kind.get(k, ()))

    def get(self, kind: str, namespace: str, name: str) -> KubeObject | None:
        return self._by_key.get((kind, namespace, name))

    def has_kind(self, kind: str) -> bool:
        return kind in self._by_kind

    def memo(self, key: str, compute: Any) -> Any:
        """Compute a derived view once per set (e.g. the ingress-nginx controller context)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def in_namespace(self, kind: str, namespace: str) -> tuple[KubeObject, ...]:
        """Objects of ``kind`` in ``namespace`` (indexed once per kind)."""
        def build() -> dict[str, tuple[KubeObject, ...]]:
            index: dict[str, list[KubeObject]] = {}
            for o in self.of_kind(kind):
                index.setdefault(o.namespace, []).append(o)
            return {k: tuple(v) for k, v in index.items()}
        return self.memo(f"ns-index:{kind}", build).get(namespace, ())

    def with_label(self, kind: str, key: str, value: Any) -> tuple[KubeObject, ...]:
        """Objects of ``kind`` whose label ``key`` equals ``value`` (indexed once per key).

        Runtime rules ask "which pods does this Service select" per Service; scanning every
        Pod each time was quadratic on clusters with tens of thousands of pods.
        """
        def build() -> dict[str, tuple[KubeObject, ...]]:
            index: dict[str, list[KubeObject]] = {}
            for o in self.of_kind(kind):
                if key in o.labels:
                    index.setdefault(str(o.labels[key]), []).append(o)
            return {k: tuple(v) for k, v in index.items()}
        return self.memo(f"label-index:{kind}:{key}", build).get(str(value), ())

    def selected(self, kind: str, namespace: str, selector: Mapping[str, Any] | None) -> tuple[KubeObject, ...]:
        """Objects of ``kind`` in ``namespace`` matching an equality ``selector``."""
        if not isinstance(selector, dict) or not selector:
            return ()
        key, value = next(iter(selector.items()))
        return tuple(o for o in self.with_label(kind, str(key), value)
                     if o.namespace == namespace and matches_selector(o.labels, selector))

    def nodes_matching(self, selector: Mapping[str, Any]) -> tuple[KubeObject, ...]:
        return tuple(n for n in self.of_kind("Node") if matches_selector(n.labels, selector))

    def pods_selected_by(self, service: KubeObject) -> tuple[KubeObject, ...]:
        return self.selected("Pod", service.namespace, service.spec.get("selector"))

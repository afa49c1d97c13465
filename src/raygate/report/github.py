"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request.

``::error file=F,line=L,col=C,title=T::message`` (``warning``/``notice`` by severity), the
format the Actions runner reads from a step's stdout. Properties and the message are escaped
as the runner expects (``%``, CR, LF everywhere; ``:`` and ``,`` in properties too).
Reference: docs.github.com "Workflow commands for GitHub Actions", "Setting an error message".
"""

from __future__ import annotations

from raygate.catalog_docs import docs_url
from raygate.findings import Result, Severity

COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def format(result: Result) -> str:  # noqa: A001
    out = []
    for f in result.findings:
        props = []
        if not f.file.startswith("cluster:") and f.file != "-":
            props += [f"file={_prop(f.file)}", f"line={f.line}"]
            props += [f"col={f.column}"] if f.column > 0 else []
        props.append(f"title={_prop(f'{f.code} {f.name}')}")
        message = f"{f.object}: {f.message}\nFix: {f.fix}\nDocs: {docs_url(f.rule)}"
        out.append(f"::{COMMAND[f.severity]} {','.join(props)}::{_data(message)}")
    for p in result.problems:
        props = [f"file={_prop(p.file)}"] + ([f"line={p.line}"] if p.line else [])
        props.append("title=raygate input error")
        out.append(f"::error {','.join(props)}::{_data(p.message)}")
    return "".join(line + "\n" for line in out)

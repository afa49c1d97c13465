"""JUnit XML, for CI systems that show test reports (GitLab, Jenkins, Azure DevOps).

One ``testsuite`` per layer, one ``testcase`` per rule that ran: a rule with findings is a
failing test case listing them (file:line, object, message, fix); a rule without is a pass.
Unreadable inputs are ``error`` test cases in their own suite, so the run is not green.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from raygate.catalog_docs import docs_url
from raygate.findings import Layer, Result


def format(result: Result) -> str:  # noqa: A001
    suites = []
    total_tests = total_failures = 0
    for layer in Layer:
        rules = sorted((r for r in result.rules if r.layer is layer), key=lambda r: r.code)
        if not rules:
            continue
        cases = []
        failures = 0
        for r in rules:
            found = [f for f in result.findings if f.code == r.code]
            name = quoteattr(f"{r.code} {r.name}")
            if not found:
                cases.append(f'    <testcase classname="raygate.{layer.value}" name={name}/>')
                continue
            failures += 1
            body = "\n".join(
                f"{f.file}:{f.line}: {f.object} {f.field}\n  {f.message}\n  fix: {f.fix}"
                for f in found)
            message = quoteattr(f"{len(found)} finding(s): {found[0].message}")
            cases.append(f'    <testcase classname="raygate.{layer.value}" name={name}>\n'
                         f'      <failure type="{found[0].severity.value}" message={message}>'
                         f"{escape(body)}\n  docs: {escape(docs_url(r))}</failure>\n"
                         "    </testcase>")
        total_tests += len(rules)
        total_failures += failures
        suites.append(f'  <testsuite name="raygate.{layer.value}" tests="{len(rules)}" '
                      f'failures="{failures}" errors="0">\n' + "\n".join(cases) + "\n  </testsuite>")
    if result.problems:
        cases = [f'    <testcase classname="raygate.input" name={quoteattr(p.file)}>\n'
                 f'      <error message={quoteattr(str(p))}/>\n    </testcase>'
                 for p in result.problems]
        suites.append(f'  <testsuite name="raygate.input" tests="{len(cases)}" failures="0" '
                      f'errors="{len(cases)}">\n' + "\n".join(cases) + "\n  </testsuite>")
    head = (f'<testsuites name="raygate" tests="{total_tests + len(result.problems)}" '
            f'failures="{total_failures}" errors="{len(result.problems)}">')
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + head + "\n" + "\n".join(suites) + \
        "\n</testsuites>\n"

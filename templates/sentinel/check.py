#!/usr/bin/env python3
"""Checks the Sentinel templates in templates/sentinel/ against the official REST specs, offline.

- Each rule in templates/sentinel/rules/*.json, wrapped as {"kind": "Scheduled", "properties": <file>}, is
  validated with JSON Schema draft 4 against ScheduledAlertRule of SecurityInsights 2025-12-01 (AlertRules.json),
  every $ref resolved from the local copy of azure-rest-api-specs (no network).
- Because the specs do not set additionalProperties, a property that no definition declares (following $ref and
  allOf) is reported separately, as ARM would silently drop it. Read-only properties in a request are reported too.
- Every KQL query (rules and workbook items) must read the function KeeperSecurityEvents and not the table.
- Every event name quoted in a rule's query must be listed in that rule's section of rules/SOURCES.md.
- function.kql must project exactly Keeper's nine columns, in order; function.json's saved search is validated
  against SavedSearch of OperationalInsights 2020-08-01 (SavedSearches.json).

Usage: python3 check.py [--specs DIR]   (needs: pip install jsonschema)
Exit status 0 when everything passes, 1 otherwise.
"""

import argparse
import glob
import json
import re
import sys
from pathlib import Path

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

HERE = Path(__file__).resolve().parent
SENTINEL = HERE / "templates" / "sentinel"
DEFAULT_SPECS = Path("/work/shared/azure-specs/specification")
ALERT_RULES = "securityinsights/resource-manager/Microsoft.SecurityInsights/stable/2025-12-01/AlertRules.json"
SAVED_SEARCHES = "operationalinsights/resource-manager/Microsoft.OperationalInsights/stable/2020-08-01/SavedSearches.json"
FUNCTION = "KeeperSecurityEvents"
KEEPER_COLUMNS = ["TimeGenerated", "AuditEvent", "RemoteAddress", "Category", "ClientVersion",
                  "EnterpriseId", "Username", "Timestamp", "Data"]
# Table names a query must not read directly: ours (default and placeholder) and Keeper's solution table.
TABLES = ["KeeperLogs_CL", "{{TABLE}}", "KeeperSecurityEventNewLogs_CL"]


class Specs:
    """The local spec tree as a referencing registry of file:// resources."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.registry = Registry(retrieve=self._retrieve)

    def uri(self, rel: str, pointer: str) -> str:
        return (self.root / rel).as_uri() + "#" + pointer

    def _retrieve(self, uri: str) -> Resource:
        path = Path(uri.removeprefix("file://"))
        with open(path, encoding="utf-8") as f:
            return DRAFT4.create_resource(json.load(f))

    def validator(self, rel: str, pointer: str):
        schema = {"$ref": self.uri(rel, pointer)}
        return jsonschema.Draft4Validator(schema, registry=self.registry)

    def resolve(self, resolver, node):
        """Follows $ref chains; returns (schema, resolver scoped to the schema's document)."""
        while isinstance(node, dict) and "$ref" in node:
            resolved = resolver.lookup(node["$ref"])
            node, resolver = resolved.contents, resolved.resolver
        return node, resolver


def declared(specs, resolver, schema):
    """Properties a schema declares, itself and through allOf: name -> (schema, resolver, readOnly)."""
    schema, resolver = specs.resolve(resolver, schema)
    out = {}
    for part in schema.get("allOf", []):
        out.update(declared(specs, resolver, part))
    for name, sub in schema.get("properties", {}).items():
        target, _ = specs.resolve(resolver, sub)
        read_only = bool(sub.get("readOnly") or (isinstance(target, dict) and target.get("readOnly")))
        out[name] = (sub, resolver, read_only)
    return out


def undeclared(specs, resolver, schema, instance, path="$"):
    """Problems: properties no definition declares, and read-only properties sent in a request."""
    problems = []
    schema, resolver = specs.resolve(resolver, schema)
    if isinstance(instance, dict):
        props = declared(specs, resolver, schema)
        extra = schema.get("additionalProperties")
        for key, value in instance.items():
            if key in props:
                sub, sub_resolver, read_only = props[key]
                if read_only:
                    problems.append(f"{path}.{key}: read-only property in a request body")
                problems += undeclared(specs, sub_resolver, sub, value, f"{path}.{key}")
            elif isinstance(extra, dict):
                problems += undeclared(specs, resolver, extra, value, f"{path}.{key}")
            elif not props and schema.get("type") == "object" and extra is None:
                # A free-form object (no declared properties at all) accepts any key.
                continue
            else:
                problems.append(f"{path}.{key}: not declared by the spec (ARM would drop it)")
    elif isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            problems += undeclared(specs, resolver, schema["items"], item, f"{path}[{i}]")
    return problems


def load_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"check.py: cannot read {path}: {e}")


def schema_errors(validator, instance):
    return [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path)))]


def query_problems(query, where):
    problems = []
    if not re.search(rf"\b{FUNCTION}\b", query):
        problems.append(f"{where}: query does not mention {FUNCTION}")
    first = query.strip().split("|", 1)[0].strip()
    if first != FUNCTION:
        problems.append(f"{where}: query starts with {first!r}, not {FUNCTION}")
    for table in TABLES:
        if table in query:
            problems.append(f"{where}: query reads the table {table} directly")
    return problems


def source_sections(text):
    """rules/SOURCES.md: '## <rule id>' sections -> their text."""
    sections, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^##\s+`?([a-z0-9-]+)`?\s*$", line)
        if m:
            current = m.group(1)
            sections[current] = ""
        elif current:
            sections[current] += line + "\n"
    return sections


def event_names(query):
    """Event names compared with AuditEvent: == "x" and in ("x", "y")."""
    names = re.findall(r'AuditEvent\s*==\s*"([^"]+)"', query)
    for group in re.findall(r"AuditEvent\s+in\s*\(([^)]*)\)", query):
        names += re.findall(r'"([^"]+)"', group)
    return names


def check_rules(specs):
    validator = specs.validator(ALERT_RULES, "/definitions/ScheduledAlertRule")
    root = specs.registry.resolver(specs.uri(ALERT_RULES, ""))
    rule_schema = {"$ref": specs.uri(ALERT_RULES, "/definitions/ScheduledAlertRule")}
    sources = source_sections((SENTINEL / "rules" / "SOURCES.md").read_text(encoding="utf-8"))
    results, failed = [], False
    files = sorted(glob.glob(str(SENTINEL / "rules" / "*.json")))
    for file in files:
        rule_id = Path(file).stem
        body = load_json(file)
        wrapped = {"kind": "Scheduled", "properties": body}
        problems = schema_errors(validator, wrapped)
        problems += undeclared(specs, root, rule_schema, wrapped)
        problems += query_problems(body.get("query", ""), "query")
        names = event_names(body.get("query", ""))
        if not names:
            problems.append("query compares AuditEvent with no quoted event name")
        section = sources.get(rule_id)
        if section is None:
            problems.append(f"rules/SOURCES.md has no section '## {rule_id}'")
        else:
            for name in names:
                if f"`{name}`" not in section:
                    problems.append(f"event {name!r} is not cited in SOURCES.md section {rule_id}")
        results.append((rule_id, body.get("displayName"), body.get("severity"), body.get("tactics"), names, problems))
        failed |= bool(problems)
    return results, failed


def check_function(specs):
    problems = []
    kql = (SENTINEL / "function.kql").read_text(encoding="utf-8")
    head, _, rest = kql.partition("|")
    if head.strip() != "{{TABLE}}":
        problems.append("function.kql does not start with the {{TABLE}} placeholder")
    rest = rest.strip()
    if not rest.startswith("project") or "|" in rest:
        problems.append("function.kql is expected to be '{{TABLE}} | project ...' and nothing else")
    # Each projection is "Name" or "Name = column"; anything else (a function call) is reported.
    pairs = []
    for item in rest.removeprefix("project").split(","):
        name, _, source = (part.strip() for part in item.partition("="))
        pairs.append((name, source or name))
    outputs = [name for name, _ in pairs]
    if outputs != KEEPER_COLUMNS:
        problems.append(f"function.kql projects {outputs}, expected {KEEPER_COLUMNS}")
    sidecar = load_json(SENTINEL / "function.json")
    if [c["name"] for c in sidecar["columns"]] != KEEPER_COLUMNS:
        problems.append("function.json columns differ from Keeper's nine columns")
    if pairs != [(c["name"], c["from"]) for c in sidecar["columns"]]:
        problems.append(f"function.kql maps {pairs}, function.json says otherwise")
    # Our table's columns: templates/table-columns.json beside templates/sentinel/ once in the repo.
    candidates = [HERE / "templates" / "table-columns.json", Path("/work/main/templates/table-columns.json")]
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        problems.append("table-columns.json not found; cannot compare column types")
    else:
        table = load_json(found)
        ours = {c["name"]: c["type"] for c in table}
        for c in sidecar["columns"]:
            if ours.get(c["from"]) != c["type"]:
                problems.append(f"column {c['name']}: our {c['from']} is {ours.get(c['from'])}, Keeper's is {c['type']}")
    saved = dict(sidecar["savedSearch"], query=kql.replace("{{TABLE}}", sidecar["defaultTable"]))
    body = {"properties": saved}
    validator = specs.validator(SAVED_SEARCHES, "/definitions/SavedSearch")
    problems += schema_errors(validator, body)
    root = specs.registry.resolver(specs.uri(SAVED_SEARCHES, ""))
    problems += undeclared(specs, root, {"$ref": specs.uri(SAVED_SEARCHES, "/definitions/SavedSearch")}, body)
    if saved.get("functionAlias") != FUNCTION:
        problems.append(f"functionAlias is {saved.get('functionAlias')!r}")
    return problems


def workbook_queries(node, path="$"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "query" and isinstance(value, str):
                yield path, value
            else:
                yield from workbook_queries(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from workbook_queries(value, f"{path}[{i}]")


def check_workbook():
    workbook = load_json(SENTINEL / "workbook.json")
    problems, count = [], 0
    for path, query in workbook_queries(workbook):
        count += 1
        problems += query_problems(query, path)
    tabs = [g["content"]["title"] for g in workbook["items"] if g.get("type") == 12]
    if tabs != ["Overview", "User Analysis", "Security Events"]:
        problems.append(f"workbook groups are {tabs}")
    return count, tabs, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=Path, default=DEFAULT_SPECS)
    args = parser.parse_args()
    specs = Specs(args.specs)
    failed = False

    results, rules_failed = check_rules(specs)
    failed |= rules_failed
    print(f"Rules ({len(results)}) against ScheduledAlertRule, SecurityInsights 2025-12-01:")
    for rule_id, name, severity, tactics, names, problems in results:
        print(f"  {'ok  ' if not problems else 'FAIL'} {rule_id}: {name} [{severity}; {', '.join(tactics or [])}]")
        print(f"       events: {', '.join(names)}")
        for p in problems:
            print(f"       - {p}")

    problems = check_function(specs)
    failed |= bool(problems)
    print(f"Function ({FUNCTION}) against SavedSearch, OperationalInsights 2020-08-01: {'ok' if not problems else 'FAIL'}")
    for p in problems:
        print(f"  - {p}")

    count, tabs, problems = check_workbook()
    failed |= bool(problems)
    print(f"Workbook: {count} queries, tabs {tabs}: {'ok' if not problems else 'FAIL'}")
    for p in problems:
        print(f"  - {p}")

    print("FAILED" if failed else "ALL CHECKS PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

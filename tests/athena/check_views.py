#!/usr/bin/env python3
"""Runs the shipped Athena SQL (infra/athena/) on DuckDB over real result
documents and contact records, and prints every query's rows as JSON.

Usage: check_views.py RESULTS_DIR RECORDS_FILE... > rows.json

What is run verbatim: infra/athena/calls_view.sql,
calls_with_records_view.sql and queries/*.sql, text unchanged except the
mechanical steps listed in to_duckdb() (none of which touch a query's
logic). What is translated: the two tables. Athena reads them through Glue
and the OpenX JSON SerDe; here each becomes a DuckDB view over read_json with
the same columns, the column types translated from the Glue/Hive spelling
(string, bigint, struct<...>, array<...>) by hive_to_duckdb(). The ResultsTable
columns are read from infra/template.yaml and the contact record columns from
infra/athena/contact_records_table.sql, so a column renamed there is renamed
here. Two SerDe behaviours are reproduced rather than run: contact record
keys are lower-cased (the SerDe's case-insensitive matching) and records are
given one per line (the Firehose new-line delimiter the table's doc asks for).

Not verified: Athena itself (Trino's parser and functions), the Glue
catalog, S3 locations, partitions, gzip objects read by Athena, and the
SerDe's handling of malformed lines.
"""

import gzip
import json
import pathlib
import re
import sys
import tempfile

import duckdb

ROOT = pathlib.Path(__file__).resolve().parents[2]
ATHENA = ROOT / "infra" / "athena"


def to_duckdb(sql: str) -> str:
    """The mechanical Athena -> DuckDB steps for the view and query files.

    DuckDB accepts `CROSS JOIN UNNEST(calls) AS t(c)`, struct field access,
    count_if, regexp_extract, split_part, nullif, round and window functions
    as Athena writes them, so the only step is dropping the trailing `;`
    (one statement per execute call)."""
    return sql.strip().rstrip(";")


def split_top(s: str, sep: str = ","):
    """Splits at `sep` outside <...> and (...)."""
    depth, part, parts = 0, "", []
    for ch in s:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += ch
    if part.strip():
        parts.append(part)
    return [p.strip() for p in parts]


def hive_to_duckdb(t: str) -> str:
    t = t.strip()
    scalar = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER",
              "double": "DOUBLE", "boolean": "BOOLEAN"}
    if t in scalar:
        return scalar[t]
    if t.startswith("array<") and t.endswith(">"):
        return hive_to_duckdb(t[6:-1]) + "[]"
    if t.startswith("struct<") and t.endswith(">"):
        fields = []
        for f in split_top(t[7:-1]):
            name, ftype = f.split(":", 1)
            fields.append(f'"{name}" {hive_to_duckdb(ftype)}')
        return "STRUCT(" + ", ".join(fields) + ")"
    raise ValueError(f"no DuckDB type for Hive type {t!r}")


def template_columns():
    """The ResultsTable's Columns from infra/template.yaml (Name/Type pairs)."""
    text = (ROOT / "infra" / "template.yaml").read_text()
    block = text.split("ResultsTable:", 1)[1].split("Columns:", 1)[1]
    block = re.split(r"\n\S", block, 1)[0]
    pairs = re.findall(r"- Name: (\S+)\s+Type: (\S+)", block)
    if not pairs:
        raise SystemExit("no ResultsTable columns found in infra/template.yaml")
    return pairs


def ddl_columns():
    """The column list of contact_records_table.sql's CREATE EXTERNAL TABLE."""
    text = (ATHENA / "contact_records_table.sql").read_text()
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    body = text.split("(", 1)[1].rsplit(")\nROW FORMAT", 1)[0]
    return [tuple(c.split(None, 1)) for c in split_top(body)]


def columns_arg(pairs):
    return "{" + ", ".join(f"'{n}': '{hive_to_duckdb(t)}'" for n, t in pairs) + "}"


def lower_keys(v):
    if isinstance(v, dict):
        return {k.lower(): lower_keys(x) for k, x in v.items()}
    if isinstance(v, list):
        return [lower_keys(x) for x in v]
    return v


def records_of(path: pathlib.Path):
    """Contact records from Firehose output (concatenated or one per line,
    gzip or not) or a JSON array."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text, dec, at = data.decode(), json.JSONDecoder(), 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return
        value, at = dec.raw_decode(text, at)
        yield from value if isinstance(value, list) else [value]


def main():
    results_dir, record_files = pathlib.Path(sys.argv[1]), sys.argv[2:]
    con = duckdb.connect()
    con.execute("CREATE SCHEMA ccp_disconnect")
    con.execute(
        "CREATE VIEW ccp_disconnect.results AS SELECT * FROM read_json("
        f"'{results_dir}/*.json', format = 'newline_delimited', "
        f"columns = {columns_arg(template_columns())})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        lines = pathlib.Path(tmp) / "records.json"
        with lines.open("w") as out:
            for f in record_files:
                for record in records_of(pathlib.Path(f)):
                    out.write(json.dumps(lower_keys(record)) + "\n")
        con.execute(
            "CREATE VIEW ccp_disconnect.contact_records AS SELECT * FROM read_json("
            f"'{lines}', format = 'newline_delimited', columns = {columns_arg(ddl_columns())})"
        )
        for view in ["calls_view.sql", "calls_with_records_view.sql"]:
            con.execute(to_duckdb((ATHENA / view).read_text()))
        rows = {}

        def run(name, sql):
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            rows[name] = [dict(zip(names, r)) for r in cur.fetchall()]

        run("calls_with_records", "SELECT contact_id, disconnected_by, record_agreement, "
            "agreement, queue_name, day FROM ccp_disconnect.calls_with_records ORDER BY contact_id")
        for q in sorted((ATHENA / "queries").glob("*.sql")):
            run(q.stem, to_duckdb(q.read_text()))
    json.dump(rows, sys.stdout, indent=1, default=str)


if __name__ == "__main__":
    main()

"""The named parameters of queries.sql: `:name` in a block, `$n` on the wire, arguments
by name from Python."""

from __future__ import annotations

import pytest

from jobsvc.store.sql import QueryParameterError, bind, compile_query, queries


def test_each_name_becomes_one_numbered_parameter_in_order_of_first_use() -> None:
    compiled = compile_query("q", "SELECT :b, :a::text, coalesce(:b::int, 0) WHERE x = ANY(:a)")
    assert compiled.sql == "SELECT $1, $2::text, coalesce($1::int, 0) WHERE x = ANY($2)"
    assert compiled.parameters == ("b", "a")


def test_casts_literals_comments_and_quoted_bodies_are_left_alone() -> None:
    text = """-- a comment with :not_a_parameter
SELECT ':literal', '{"a": 1}'::jsonb, "col:umn", x::timestamptz, /* :block */ $body$ :inside $body$, :real,
       $$ :also_inside $$"""
    compiled = compile_query("q", text)
    assert compiled.parameters == ("real",)
    assert compiled.sql == text.replace(":real", "$1")


def test_a_block_may_not_number_its_own_parameters() -> None:
    with pytest.raises(ValueError, match=r"query q uses \$2: name its parameters"):
        compile_query("q", "SELECT $2")


def test_arguments_come_out_in_wire_order() -> None:
    sql, args = bind("job_event_list", limit=5, job_id="j", after_seq=2)
    assert args == tuple({"after_seq": 2, "limit": 5, "job_id": "j"}[p] for p in queries()["job_event_list"].parameters)
    assert sql == queries()["job_event_list"].sql and "$3" in sql and ":job_id" not in sql


def test_a_missing_or_unknown_argument_is_an_error_that_names_it() -> None:
    with pytest.raises(QueryParameterError) as raised:
        bind("job_get", job_id="j", payload=True)
    assert str(raised.value) == "query job_get: missing :payloads; unknown :payload (it takes :payloads, :job_id)"
    with pytest.raises(QueryParameterError, match="it takes no parameters"):
        bind("database_ping", anything=1)
    with pytest.raises(KeyError):
        bind("no_such_query")


def test_every_block_of_queries_sql_compiles_with_its_parameters_numbered_densely() -> None:
    for name, named in queries().items():  # compiling refuses a hand-numbered $n
        for number in range(1, len(named.parameters) + 1):
            assert f"${number}" in named.sql, (name, number)
        assert f"${len(named.parameters) + 1}" not in named.sql, name


def test_a_variant_line_is_a_comment_in_its_block_and_a_line_of_the_variant() -> None:
    """Proves: job_insert_many (no idempotency keys in the batch) runs without ON CONFLICT,
    and job_insert_many+keyed runs the same statement with it."""
    plain, keyed = queries()["job_insert_many"].sql, queries()["job_insert_many+keyed"].sql
    assert "--+keyed ON CONFLICT" in plain
    assert "\n    ON CONFLICT (idempotency_key)" in keyed and "--+keyed" not in keyed
    assert keyed == plain.replace("--+keyed ", "")

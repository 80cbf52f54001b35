"""The rules of the service as plain dataclasses and functions.

Nothing here imports a web framework, a validation library, SQL or a database driver, so each
rule can be read in one place and tested without PostgreSQL (tests/unit). Services call these;
endpoints and repositories translate to and from them at the edges.
"""

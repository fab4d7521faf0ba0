"""Caps on what an import accepts: a definition is untrusted input parsed in the control API process."""

from __future__ import annotations

MAX_DEFINITION_BYTES = 5 * 1024 * 1024  # the UTF-8 text of one definition
MAX_PATHS = 1000  # paths of an OpenAPI document (each becomes one resource)
MAX_OPERATIONS = 2000  # path x method, or WSDL binding operations
MAX_DEPTH = 64  # nesting of JSON/YAML values or XML elements
MAX_NODES = 500_000  # values visited in a JSON/YAML document (YAML aliases count each time they are used)

"""The API's contract, declared once as pydantic models.

Request models validate the JSON bodies (with the rule functions of
:mod:`funrun.people.rules`), response models build the answers, and
:mod:`funrun.api.openapi` writes ``/api/v1/openapi.json`` from both.
"""

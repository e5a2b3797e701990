"""The bundled scenario files, installed as ``greenwave.scenarios`` (package data).

Read them through ``importlib.resources`` (:func:`greenwave.scenario.bundled_scenario`), never
through a path relative to the source tree.
"""

"""Fleetline's domain: one package per capability, shared by the HTTP routes, the agent and the schedules."""
from importlib import import_module


def submodules_on_first_use(package: str):
    """A module __getattr__ that imports `package.<name>` when first asked for it.

    Every Lambda (API, agent, schedules) imports app.py; loading a capability's models and services
    only when a handler uses them keeps each cold start to what that Lambda runs (STYLE fact 7).
    """
    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return import_module(f"{package}.{name}")
    return __getattr__

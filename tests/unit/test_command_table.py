"""Every command has its action and exactly one row in the table that runs it."""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any
from uuid import uuid4

import domain.commands
from domain.commands.base import Command
from domain.commands.deployments import STAGES
from domain.deployment import Environment, Outcome
from infra.dispatch import HANDLERS

ACTION = re.compile(r"^[a-z]+\.[a-z_]+$")


def commands() -> set[type[Command[Any]]]:
    """Every command class that names an action; the ones without are shared bases."""
    for module in pkgutil.iter_modules(domain.commands.__path__):
        importlib.import_module(f"domain.commands.{module.name}")
    found: set[type[Command[Any]]] = set()
    todo: list[type[Command[Any]]] = [Command]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if hasattr(cls, "ACTION"):
            found.add(cls)
    return found


def test_every_command_and_only_commands_have_a_handler() -> None:
    assert commands() == set(HANDLERS)


def test_every_command_names_its_action_as_kind_dot_verb() -> None:
    for command in commands():
        assert ACTION.match(command.ACTION), command


def test_a_stage_report_names_the_stage_and_its_outcome() -> None:
    """As the stage reports recorded before commands were objects did."""
    staged = STAGES[Environment.STAGING](uuid4(), Outcome.STARTED)
    live = STAGES[Environment.PRODUCTION](uuid4(), Outcome.SUCCEEDED)
    assert staged.action == "deployment.staging.started"
    assert live.action == "deployment.production.succeeded"

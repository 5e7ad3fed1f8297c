"""LlamaIndex tools built from the core's agent tool contract (:mod:`arli.tool_contract`).

A spec says which argument model each function takes (:meth:`ContractToolSpec._schema`)
and how to run it; this base gives every tool that schema as its ``fn_schema`` and
validates the agent's arguments with :func:`arli.tool_contract.check_arguments`, so the
agent reads the same text as with the LangChain tools. Errors the agent can fix get the
toolbox's explanation as their message; others are raised as they are.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any

from llama_index.core.tools.function_tool import FunctionTool
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec
from llama_index.core.tools.types import ToolMetadata
from pydantic import BaseModel

from arli._errors import ArliError
from arli.tool_contract import ToolContract, check_arguments, with_message

__all__ = ["ContractToolSpec", "arguments", "spec_function", "spec_pair"]


def arguments(values: dict[str, Any]) -> dict[str, Any]:
    """A method's ``locals()`` as the agent's arguments (without ``self``)."""
    return {name: value for name, value in values.items() if name != "self"}


def _signature(contract: ToolContract, returns: Any) -> inspect.Signature:
    fields = contract.arguments.model_fields
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("self", kind)] + [
        inspect.Parameter(
            name,
            kind,
            default=inspect.Parameter.empty if info.is_required() else info.default,
            annotation=info.annotation,
        )
        for name, info in fields.items()
    ]
    return inspect.Signature(params, return_annotation=returns)


def spec_function(
    contract: ToolContract, returns: Any, *, is_async: bool = False
) -> Callable[..., Any]:
    """The spec method (or its async twin) of the tool ``contract``, made from the contract.

    It takes the contract's arguments by position or name, as the argument model lists
    them, and runs the tool as the agent's call does (:meth:`ContractToolSpec._call`):
    validated by the contract, errors the agent can fix explained.
    """
    signature = _signature(contract, returns)
    name = contract.function

    def bound(spec: "ContractToolSpec", args: tuple[Any, ...], kwargs: Any) -> dict[str, Any]:
        values = signature.bind(spec, *args, **kwargs)
        values.apply_defaults()
        return arguments(values.arguments)

    def function(self: "ContractToolSpec", /, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, bound(self, args, kwargs))

    async def afunction(self: "ContractToolSpec", /, *args: Any, **kwargs: Any) -> Any:
        return await self._acall(name, bound(self, args, kwargs))

    made: Callable[..., Any] = afunction if is_async else function
    made.__name__ = made.__qualname__ = ("a" if is_async else "") + name
    made.__doc__ = f"Async :meth:`{name}`." if is_async else contract.describe("")
    made.__signature__ = signature  # type: ignore[attr-defined]
    return made


def spec_pair(
    contract: ToolContract, returns: Any
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The spec method of the tool ``contract`` and its async twin (:func:`spec_function`)."""
    return spec_function(contract, returns), spec_function(contract, returns, is_async=True)


class ContractToolSpec(BaseToolSpec):
    """A tool spec whose functions are validated and explained by the core contract."""

    def _contract(self, fn_name: str) -> ToolContract:
        """The core contract of the function ``fn_name``."""
        raise NotImplementedError

    def _schema(self, fn_name: str) -> type[BaseModel]:
        """The argument model of ``fn_name`` (the contract's, narrowed by a subclass)."""
        return self._contract(fn_name).arguments

    def _describe(self, contract: ToolContract) -> str:
        """The description of ``contract`` the agent reads."""
        return contract.describe("")

    def get_metadata_from_fn_name(
        self, fn_name: str, spec_functions: list[SPEC_FUNCTION_TYPE] | None = None
    ) -> ToolMetadata | None:
        """The tool metadata of a function, from the core contract.

        The description is ``name(arg, optional=None, ...)`` and the contract's text (the
        argument types and descriptions are in the schema), which keeps every tool under
        the 1024-character limit of OpenAI-style function calling that LlamaIndex's
        ``ToolMetadata.to_openai_tool`` enforces.
        """
        schema = self._schema(fn_name)
        shown = schema.model_json_schema()
        required = set(shown.get("required", []))
        params = ", ".join(
            name if name in required else f"{name}=None" for name in shown.get("properties", {})
        )
        doc = self._describe(self._contract(fn_name))
        return ToolMetadata(
            name=fn_name, description=f"{fn_name}({params})\n{doc}", fn_schema=schema
        )

    def _run_tool(self, fn_name: str, args: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def _arun_tool(self, fn_name: str, args: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _explain(self, exc: ArliError) -> str | None:
        raise NotImplementedError

    async def _aexplain(self, exc: ArliError) -> str | None:
        return self._explain(exc)

    def to_tool_list(
        self,
        spec_functions: list[SPEC_FUNCTION_TYPE] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        """The tools, taking the agent's arguments as the contract validates them.

        Unlike the Python methods, the tools' functions take keyword arguments only and
        leave every check to the contract, so a missing argument is answered with the
        same text as in LangChain (``prompt is required``), not a ``TypeError``.
        """
        tools: list[FunctionTool] = []
        for spec in spec_functions or self.spec_functions:
            name = spec if isinstance(spec, str) else spec[0]
            metadata = (func_to_metadata_mapping or {}).get(name)
            tools.append(
                FunctionTool.from_defaults(
                    fn=functools.partial(self._agent_call, name),
                    async_fn=functools.partial(self._aagent_call, name),
                    tool_metadata=metadata or self.get_metadata_from_fn_name(name),
                )
            )
        return tools

    def _agent_call(self, fn_name: str, /, **args: Any) -> Any:
        return self._call(fn_name, args)

    async def _aagent_call(self, fn_name: str, /, **args: Any) -> Any:
        return await self._acall(fn_name, args)

    def _call(self, fn_name: str, args: dict[str, Any]) -> Any:
        """Validate the agent's ``args`` as the contract says, then run the tool."""
        checked = check_arguments(self._schema(fn_name), arguments(args))
        try:
            return self._run_tool(fn_name, checked)
        except ArliError as exc:
            text = self._explain(exc)
            raise (exc if text is None else with_message(exc, text)) from exc

    async def _acall(self, fn_name: str, args: dict[str, Any]) -> Any:
        """Async :meth:`_call`."""
        checked = check_arguments(self._schema(fn_name), arguments(args))
        try:
            return await self._arun_tool(fn_name, checked)
        except ArliError as exc:
            text = await self._aexplain(exc)
            raise (exc if text is None else with_message(exc, text)) from exc

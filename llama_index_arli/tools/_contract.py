"""LlamaIndex tools built from the core's agent tool contract (:mod:`arli.tool_contract`).

A spec says which argument model each function takes (:meth:`ContractToolSpec._schema`)
and how to run it; this base gives every tool that schema as its ``fn_schema`` and
validates the agent's arguments with :func:`arli.tool_contract.check_arguments`, so the
agent reads the same text as with the LangChain tools. Errors the agent can fix get the
toolbox's explanation as their message; others are raised as they are.
"""

import functools
from typing import Any

from llama_index.core.tools.function_tool import FunctionTool
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec
from llama_index.core.tools.types import ToolMetadata
from pydantic import BaseModel

from arli._errors import ArliError
from arli.tool_contract import check_arguments, with_message

__all__ = ["ContractToolSpec", "arguments"]


def arguments(values: dict[str, Any]) -> dict[str, Any]:
    """A method's ``locals()`` as the agent's arguments (without ``self``)."""
    return {name: value for name, value in values.items() if name != "self"}


class ContractToolSpec(BaseToolSpec):
    """A tool spec whose functions are validated and explained by the core contract."""

    def _schema(self, fn_name: str) -> type[BaseModel]:
        raise NotImplementedError

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

"""``init_chat_model("arli:<model>")``: provider strings for our chat models.

``langchain.chat_models.init_chat_model`` takes ``"provider:model"`` strings, but its
provider table is closed: a third-party package cannot add a provider to it, and it raises
``ValueError: Unsupported model_provider='arli'``. This function takes the same arguments
for our providers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import ConfigurableField, Runnable

from arli._errors import ArliValidationError

__all__ = ["init_chat_model"]

_PROVIDERS = ("arli", "arli-proxy", "featherless")


def _split(model: str, model_provider: str | None) -> tuple[str, str]:
    if model_provider is None and ":" in model:
        prefix, _, rest = model.partition(":")
        if prefix.lower() in _PROVIDERS:
            model_provider, model = prefix.lower(), rest
    if model_provider is None:
        msg = (
            f"init_chat_model: no provider for model {model!r}: write 'arli:<model>', "
            f"'featherless:<model>' or 'arli-proxy:<model>', or pass model_provider= "
            f"(one of {', '.join(_PROVIDERS)})"
        )
        raise ArliValidationError(msg)
    provider = model_provider.lower().replace("_", "-")
    if provider not in _PROVIDERS:
        msg = (
            f"init_chat_model: unknown model_provider {model_provider!r}; "
            f"allowed: {', '.join(_PROVIDERS)}"
        )
        raise ArliValidationError(msg)
    if not model:
        msg = "init_chat_model: the model id is empty (write e.g. 'arli:Mistral-Nemo-12B-Instruct')"
        raise ArliValidationError(msg)
    return provider, model


def init_chat_model(
    model: str,
    *,
    model_provider: str | None = None,
    configurable_fields: Literal["any"] | Sequence[str] | None = None,
    config_prefix: str | None = None,
    **kwargs: Any,
) -> BaseChatModel | Runnable[Any, Any]:
    """Build a chat model from a ``"provider:model"`` string, like LangChain's function.

    Args:
        model: ``"arli:<model>"``, ``"arli-proxy:<model>"`` or ``"featherless:<model>"``
            (or a bare model id with ``model_provider``).
        model_provider: ``"arli"``, ``"arli-proxy"`` or ``"featherless"``; overrides a prefix.
        configurable_fields: fields that a run's ``config["configurable"]`` may change:
            ``"any"`` (every field but the key) or a list of field names.
        config_prefix: prefix of the configurable keys (``f"{prefix}_{field}"``), as in
            LangChain's function.
        **kwargs: constructor arguments (``temperature=``, ``api_key=``...), checked like
            the constructor's.

    Returns:
        A :class:`~langchain_arli.ChatArli` or :class:`~langchain_arli.ChatFeatherless`;
        with ``configurable_fields``, that model wrapped as a configurable runnable.

    Raises:
        ArliValidationError: no or an unknown provider, an empty model id, a configurable
            field the model does not have, or a bad constructor argument.

    Example:
        .. code-block:: python

            from langchain_arli import init_chat_model

            llm = init_chat_model("arli:Mistral-Nemo-12B-Instruct-2407", temperature=0.2)
            fast = init_chat_model("featherless:Qwen/Qwen2.5-0.5B-Instruct")
    """
    # imported on call: `import langchain_arli` stays light (see its _LAZY table)
    from langchain_arli.chat_models import ChatArli, ChatFeatherless  # noqa: PLC0415

    provider, model_id = _split(model, model_provider)
    chat: BaseChatModel
    if provider == "featherless":
        chat = ChatFeatherless(model=model_id, **kwargs)
    else:
        chat = ChatArli(model=model_id, provider=provider, **kwargs)
    if configurable_fields is None:
        return chat
    fields = type(chat).model_fields
    names = (
        [n for n in fields if n not in {"api_key", "http_client", "http_async_client"}]
        if configurable_fields == "any"
        else list(configurable_fields)
    )
    unknown = [n for n in names if n not in fields]
    if unknown:
        msg = f"init_chat_model: {type(chat).__name__} has no field {unknown[0]!r} to configure"
        raise ArliValidationError(msg)
    prefix = f"{config_prefix}_" if config_prefix else ""
    return chat.configurable_fields(
        **{name: ConfigurableField(id=f"{prefix}{name}", name=name) for name in names}
    )

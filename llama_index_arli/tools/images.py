"""LlamaIndex tool spec for the image backends: generate, edit, upscale, list, image to video.

The spec translates; :class:`arli.images.tooling.ImageToolbox` decides (arguments,
defaults, where files go, error texts). Each function returns the
:class:`~arli.images.ImageResult`: LlamaIndex puts ``str(result)`` — a short text with the
saved paths, seed, size and model — into ``ToolOutput.content`` for the model, and keeps
the result itself (bytes, PIL on demand, generation info) in ``ToolOutput.raw_output``.
Errors the agent can fix are raised with a message saying what to change (an agent loop
such as ``FunctionAgent`` hands it to the model); a missing or rejected key is raised as
it is.

``backend=`` picks the image service: ``"arli"`` (default, with the key), ``"arli-proxy"``
(the keyless proxy), ``"aiart"`` (AiArt, keyless) or a client instance (see
:mod:`arli.images.backends`). The functions offered follow the backend: Arli and the proxy
give generate, edit, upscale and the listings; AiArt gives generate, edit and
``image_to_video``, and its argument schemas leave out what it cannot use (width, height,
steps, model, mask) and offer only its five aspect ratios.

The tools' names, argument schemas, descriptions and argument checks come from the core
contract (:mod:`arli.images.contract`), as for the LangChain tools, so both answer the same
bad arguments with the same text. This module does not use
``from __future__ import annotations``: LlamaIndex evaluates the functions' annotations.
"""

import inspect
import os
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE
from llama_index.core.tools.types import ToolMetadata
from pydantic import BaseModel, SecretStr

from arli._errors import ArliError
from arli._kwargs import checks_arguments
from arli.images.aiart import AiArtClient, VideoResult
from arli.images.backends import (
    BackendName,
    backend_supports,
    make_image_backend,
    schema_for_backend,
)
from arli.images.client import ImageClient
from arli.images.contract import AspectRatio, NoArgs, image_tool, schema_for_prefix
from arli.images.models import ImageResult
from arli.images.tooling import DEFAULT_OUTPUT_DIR, ImageToolbox
from llama_index_arli.tools._contract import ContractToolSpec

__all__ = ["ArliImageToolSpec"]

#: The constructor arguments that are the toolbox's (passed on as they are).
_TOOLBOX_OPTIONS = frozenset(inspect.signature(ImageToolbox).parameters) - {"client"}
_SDNEXT_FUNCTIONS: list[SPEC_FUNCTION_TYPE] = [
    ("generate_image", "agenerate_image"),
    ("edit_image", "aedit_image"),
    ("upscale_image", "aupscale_image"),
    ("list_image_models", "alist_image_models"),
    ("list_samplers", "alist_samplers"),
    ("list_upscalers", "alist_upscalers"),
]
_AIART_FUNCTIONS: list[SPEC_FUNCTION_TYPE] = [
    ("generate_image", "agenerate_image"),
    ("edit_image", "aedit_image"),
    ("image_to_video", "aimage_to_video"),
]


@checks_arguments(passes_to=(ImageClient, AiArtClient), extras="generation_params")
class ArliImageToolSpec(ContractToolSpec):
    """Image tools for LlamaIndex agents (sync and async functions) over any image backend.

    Functions with Arli and the proxy: ``generate_image``, ``edit_image`` (img2img,
    inpainting with a mask), ``upscale_image``, ``list_image_models``, ``list_samplers``,
    ``list_upscalers``. With AiArt: ``generate_image``, ``edit_image`` and
    ``image_to_video``. Each has an async twin (``agenerate_image``...) used by async agents.

    Args:
        api_key: image API key (else ``ARLI_IMAGE_KEY`` or ``ARLIAI_API_KEY``); only the
            ``"arli"`` backend uses it.
        base_url: the backend's base URL (else its environment variable, else its default).
        backend: ``"arli"`` (default), ``"arli-proxy"``, ``"aiart"``, or a client.
        client: an :class:`~arli.ImageClient` or :class:`~arli.AiArtClient` to use instead
            of building one (wins over ``backend``).
        output_dir: directory the images are saved in; nothing is written elsewhere.
        model: the model used when the agent names none.
        base_size: side of a square image; other aspect ratios keep about as many pixels.
        aspect_ratio: the default aspect ratio.
        generation_params: every other txt2img field (``cfg_scale``, ``sampler_name``,
            ``hr_*``, ``detailer_*``, ``override_settings``...).
        edit_params: every other img2img field (``denoising_strength``, ``mask_blur``...).
        upscale_params: every other upscale field (``upscaler_1``, ``upscaling_resize``...).
        input_dirs: directories the agent may read images from (default: ``output_dir``).
        allow_urls: accept http(s) image URLs from the agent.
        video_params: AiArt: defaults of ``seed``, ``cfg_scale``, ``motion_bucket_id``.
        video_poll_interval: AiArt: seconds between polls of a video.
        video_timeout: AiArt: seconds to wait for a video in one call (then the agent gets
            the generation id and can call ``image_to_video(generation_id=...)`` again).
        video_max_polls: AiArt: the most polls in one call.
        **client_options: other options for the client (:class:`~arli.ArliSettings`
            fields, ``download_hosts`` for AiArt...).

    Raises:
        ArliConfigError: an unknown backend, a missing key for ``"arli"``, or ``model``
            with AiArt (it has no model choice).

    Example:
        .. code-block:: python

            from llama_index.core.agent.workflow import FunctionAgent
            from llama_index_arli import ArliImageToolSpec

            spec = ArliImageToolSpec(output_dir="images/", model="FLUX.2-klein-4B")
            agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm)
            output = spec.to_tool_list()[0].call(prompt="a red fox in snow")
            output.content           # "Generated 1 image (...). Saved to: images/arli-..."
            output.raw_output.images  # the images (bytes, .to_pil(), .path)

            videos = ArliImageToolSpec(backend="aiart", output_dir="media/")
            videos.image_to_video(image="media/fox.png")  # VideoResult, saved under media/
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = list(_SDNEXT_FUNCTIONS)  # noqa: RUF012

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        backend: BackendName | ImageClient | AiArtClient = "arli",
        client: ImageClient | AiArtClient | None = None,
        output_dir: str | os.PathLike[str] = DEFAULT_OUTPUT_DIR,
        model: str | None = None,
        base_size: int = 1024,
        aspect_ratio: AspectRatio = "1:1",
        generation_params: Mapping[str, Any] | None = None,
        edit_params: Mapping[str, Any] | None = None,
        upscale_params: Mapping[str, Any] | None = None,
        input_dirs: Sequence[str | os.PathLike[str]] | None = None,
        allow_urls: bool = True,
        video_params: Mapping[str, Any] | None = None,
        video_poll_interval: float = 5.0,
        video_timeout: float = 600.0,
        video_max_polls: int | None = None,
        **client_options: Any,
    ):
        image_client = client or make_image_backend(
            backend, api_key=api_key, base_url=base_url, **client_options
        )
        options = {name: value for name, value in locals().items() if name in _TOOLBOX_OPTIONS}
        self.toolbox = ImageToolbox(image_client, **options)
        video = backend_supports(image_client, "video")
        self.spec_functions = list(_AIART_FUNCTIONS if video else _SDNEXT_FUNCTIONS)

    def __repr__(self) -> str:
        return f"ArliImageToolSpec({self.toolbox!r})"

    @property
    def client(self) -> ImageClient | AiArtClient:
        """The image client the functions use."""
        return self.toolbox.client

    @property
    def backend(self) -> str:
        """The backend's name: ``"arli"``, ``"arli-proxy"`` or ``"aiart"``."""
        return self.toolbox.backend

    def get_metadata_from_fn_name(
        self, fn_name: str, spec_functions: list[SPEC_FUNCTION_TYPE] | None = None
    ) -> ToolMetadata | None:
        """The tool metadata of a function, from the core contract (:mod:`arli.images.contract`).

        The description is ``name(arg, optional=None, ...)`` and the contract's text (the
        argument types and descriptions are in the schema), which keeps every tool under
        the 1024-character limit of OpenAI-style function calling that LlamaIndex's
        ``ToolMetadata.to_openai_tool`` enforces. For AiArt the generate and edit schemas
        leave out the arguments AiArt cannot use and list its aspect ratios.
        """
        contract = image_tool(fn_name)
        schema = self._schema(fn_name)
        shown = schema.model_json_schema()
        required = set(shown.get("required", []))
        params = ", ".join(
            name if name in required else f"{name}=None" for name in shown.get("properties", {})
        )
        doc = contract.describe("", aiart=self.backend == "aiart")
        return ToolMetadata(
            name=fn_name, description=f"{fn_name}({params})\n{doc}", fn_schema=schema
        )

    def _schema(self, fn_name: str) -> type[BaseModel]:
        contract = image_tool(fn_name)
        if contract.schema is None:
            return NoArgs
        schema = schema_for_prefix(contract.schema, "")
        if contract.operation:
            schema = schema_for_backend(schema, contract.operation, self.client)
        return schema

    def _run_tool(self, fn_name: str, args: dict[str, Any]) -> Any:
        return self.toolbox.call(fn_name, **args)

    async def _arun_tool(self, fn_name: str, args: dict[str, Any]) -> Any:
        return await self.toolbox.acall(fn_name, **args)

    def _explain(self, exc: ArliError) -> str | None:
        return self.toolbox.explain(exc)

    async def _aexplain(self, exc: ArliError) -> str | None:
        return await self.toolbox.aexplain(exc)

    def generate_image(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        aspect_ratio: AspectRatio | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
    ) -> ImageResult:
        """Generate an image from a text description and save it to a file.

        The arguments are those of :class:`arli.images.contract.ArliImageGenerationInput`.

        Raises:
            ArliValidationError: an argument is not one the tool takes, with the text the
                agent gets.
        """
        result: ImageResult = self._call("generate_image", locals())
        return result

    async def agenerate_image(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        aspect_ratio: AspectRatio | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
    ) -> ImageResult:
        """Async :meth:`generate_image`."""
        result: ImageResult = await self._acall("generate_image", locals())
        return result

    def edit_image(
        self,
        image: str,
        prompt: str,
        mask: str | None = None,
        negative_prompt: str | None = None,
        strength: float | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
    ) -> ImageResult:
        """Edit an existing image guided by a prompt; with a mask, repaint only that area.

        The arguments are those of :class:`arli.images.contract.ArliImageEditInput`.
        """
        result: ImageResult = self._call("edit_image", locals())
        return result

    async def aedit_image(
        self,
        image: str,
        prompt: str,
        mask: str | None = None,
        negative_prompt: str | None = None,
        strength: float | None = None,
        steps: int | None = None,
        seed: int | None = None,
        model: str | None = None,
    ) -> ImageResult:
        """Async :meth:`edit_image`."""
        result: ImageResult = await self._acall("edit_image", locals())
        return result

    def upscale_image(
        self, image: str, scale: float | None = None, upscaler: str | None = None
    ) -> ImageResult:
        """Upscale an image to a higher resolution and save it (``ArliImageUpscaleInput``)."""
        result: ImageResult = self._call("upscale_image", locals())
        return result

    async def aupscale_image(
        self, image: str, scale: float | None = None, upscaler: str | None = None
    ) -> ImageResult:
        """Async :meth:`upscale_image`."""
        result: ImageResult = await self._acall("upscale_image", locals())
        return result

    def list_image_models(self) -> str:
        """List the image generation models available (names for `model`)."""
        return self.toolbox.models_text()

    async def alist_image_models(self) -> str:
        """Async :meth:`list_image_models`."""
        return await self.toolbox.amodels_text()

    def list_samplers(self) -> str:
        """List the sampler names the image server supports."""
        return self.toolbox.samplers_text()

    async def alist_samplers(self) -> str:
        """Async :meth:`list_samplers`."""
        return await self.toolbox.asamplers_text()

    def list_upscalers(self) -> str:
        """List the image upscalers available (names for `upscaler`)."""
        return self.toolbox.upscalers_text()

    async def alist_upscalers(self) -> str:
        """Async :meth:`list_upscalers`."""
        return await self.toolbox.aupscalers_text()

    def image_to_video(
        self,
        image: str | None = None,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        generation_id: str | None = None,
    ) -> VideoResult:
        """Turn an image into a short video and save it (AiArt; ``ArliImageToVideoInput``).

        If the answer says the video is not ready yet, call again with that generation_id
        (and no image) to keep waiting.
        """
        result: VideoResult = self._call("image_to_video", locals())
        return result

    async def aimage_to_video(
        self,
        image: str | None = None,
        seed: int | None = None,
        cfg_scale: float | None = None,
        motion_bucket_id: int | None = None,
        generation_id: str | None = None,
    ) -> VideoResult:
        """Async :meth:`image_to_video`."""
        result: VideoResult = await self._acall("image_to_video", locals())
        return result

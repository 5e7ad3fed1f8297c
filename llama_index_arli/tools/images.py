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
from typing import Any

from llama_index.core.base.llms.types import ImageBlock, TextBlock
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE
from pydantic import BaseModel, SecretStr

from arli._errors import ArliError
from arli._kwargs import checks_arguments
from arli._signatures import takes_options_of
from arli.images.aiart import AiArtClient, VideoResult
from arli.images.backends import (
    BackendName,
    backend_supports,
    make_image_backend,
)
from arli.images.client import ImageClient
from arli.images.contract import (
    EDIT,
    GENERATE,
    LIST_MODELS,
    LIST_SAMPLERS,
    LIST_UPSCALERS,
    UPSCALE,
    VIDEO,
    image_tool,
)
from arli.images.models import ImageResult
from arli.images.tooling import ImageToolbox
from arli.tool_contract import ToolContract
from llama_index_arli.tools._contract import ContractToolSpec, spec_pair

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
        return_image_blocks: image tools answer ``[TextBlock(summary), ImageBlock...]``
            instead of the :class:`~arli.ImageResult`, so a ``FunctionAgent`` on a vision
            model sees the images it made (default ``False``: the result object).
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
        **options: other options for the client (:class:`~arli.ArliSettings`
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

    @takes_options_of(ImageToolbox)
    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        backend: BackendName | ImageClient | AiArtClient = "arli",
        client: ImageClient | AiArtClient | None = None,
        return_image_blocks: bool = False,
        **options: Any,
    ):
        self.return_image_blocks = return_image_blocks
        toolbox = {name: options.pop(name) for name in _TOOLBOX_OPTIONS & options.keys()}
        image_client = client or make_image_backend(
            backend, api_key=api_key, base_url=base_url, **options
        )
        self.toolbox = ImageToolbox(image_client, **toolbox)
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

    def _contract(self, fn_name: str) -> ToolContract:
        return image_tool(fn_name)

    def _describe(self, contract: ToolContract) -> str:
        return self.toolbox.offer(contract.function, "")[0]

    def _schema(self, fn_name: str) -> type[BaseModel]:
        return self.toolbox.offer(fn_name, "")[1]

    def _blocks(self, result: Any) -> Any:
        """With ``return_image_blocks``: an image result as ``[TextBlock, ImageBlock...]``.

        ``FunctionTool`` keeps a list of blocks as the tool output's blocks, so an agent on
        a vision model sees the images (relayed to a user turn by :class:`Arli`).
        """
        if not (self.return_image_blocks and isinstance(result, ImageResult)):
            return result
        blocks: list[TextBlock | ImageBlock] = [TextBlock(text=result.summary())]
        blocks += [ImageBlock(image=img.data, image_mimetype=img.mime_type) for img in result]
        return blocks

    def _run_tool(self, fn_name: str, args: dict[str, Any]) -> Any:
        return self._blocks(self.toolbox.call(fn_name, **args))

    async def _arun_tool(self, fn_name: str, args: dict[str, Any]) -> Any:
        return self._blocks(await self.toolbox.acall(fn_name, **args))

    def _explain(self, exc: ArliError) -> str | None:
        return self.toolbox.explain(exc)

    async def _aexplain(self, exc: ArliError) -> str | None:
        return await self.toolbox.aexplain(exc)

    generate_image, agenerate_image = spec_pair(GENERATE, ImageResult)
    edit_image, aedit_image = spec_pair(EDIT, ImageResult)
    upscale_image, aupscale_image = spec_pair(UPSCALE, ImageResult)
    list_image_models, alist_image_models = spec_pair(LIST_MODELS, str)
    list_samplers, alist_samplers = spec_pair(LIST_SAMPLERS, str)
    list_upscalers, alist_upscalers = spec_pair(LIST_UPSCALERS, str)
    image_to_video, aimage_to_video = spec_pair(VIDEO, VideoResult)

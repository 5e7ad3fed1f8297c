"""The image API: SDNext ``sdapi/v1`` routes plus Arli's ``/v1/...`` aliases.

Wire formats follow ``tests/fixtures/wire/WIRE_REFERENCE.md`` §3 and Arli's
image docs. Images are real (Pillow), cheap to make (a seed-derived colour
with a contrasting block) and encoded in the ``samples_format`` option (JPEG
quality 90 by default), base64 without a ``data:`` prefix.

The package is split by concern; :class:`ImageAPI` composes the parts: ``tables.py``
(SDNext's data), ``validation.py`` (bodies, fields, error envelopes), ``pixels.py``
(decoding, drawing, encoding images), ``generation.py`` (txt2img, img2img, upscalers)
and ``routes.py`` (dispatch, options, enumerators).

Choices made where SDNext/Arli leave room:

* An unknown ``sd_model_checkpoint`` (request field or ``override_settings``)
  is a 404 in the SDNext envelope with ``detail: "Checkpoint not found: <name>"``
  (Arli routes by model, so an unknown name cannot be served). Names match a
  model's ``title``, ``model_name`` or title without the hash, case-insensitively.
* More than ``image_parallel_limit`` concurrent image jobs (txt2img, img2img,
  extra-single-image/process, upscale-img) get 429 with ``Retry-After: 1`` and
  ``{"error": "Too Many Requests", "detail": "...", "code": 429}``.
* img2img without ``width``/``height`` (or 0) derives the size from the first
  init image times ``scale_by``; the decoded init/mask sizes are recorded in
  ``stats`` (``last_init_image_sizes``, ``last_mask_size``) and the mask size in
  ``info.extra_generation_params["Mask size"]``.
* ``/v1/upscale-img`` (Arli's documented shape) scales by ``upscaling_resize``
  (default 4) whatever the upscaler name; ``extra-single-image`` returns the
  image unchanged for ``"None"`` or unknown upscalers, as SDNext does.
"""

from tests.reference_server.images.routes import ImageAPI
from tests.reference_server.images.validation import sdnext_error

__all__ = ["ImageAPI", "sdnext_error"]
